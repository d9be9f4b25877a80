import { describe, expect, test } from 'vitest';
import { checkPasswordChange } from './Account';
import { parsePermissions } from './Roles';

describe('the account and roles forms', () => {
  test('a password change needs the current one and the new one twice, 12 characters or more', () => {
    expect(checkPasswordChange('', 'a-long-password', 'a-long-password')).toBe('account.currentNeeded');
    expect(checkPasswordChange('old-password-1', 'short', 'short')).toBe('users.passwordShort');
    expect(checkPasswordChange('old-password-1', 'a-long-password', 'a-long-passwor')).toBe('account.mismatch');
    expect(checkPasswordChange('a-long-password', 'a-long-password', 'a-long-password')).toBe('account.same');
    expect(checkPasswordChange('old-password-1', 'a-long-password', 'a-long-password')).toBeNull();
  });

  test('permissions are read one per line or comma, and malformed ones are named', () => {
    expect(parsePermissions('job:get, job:list\n\ndataset:*\n')).toEqual({
      permissions: ['job:get', 'job:list', 'dataset:*'],
      bad: [],
    });
    expect(parsePermissions('job, Job:get, *:*').bad).toEqual(['job', 'Job:get']);
  });
});
