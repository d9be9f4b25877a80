import { render } from '@testing-library/react';
import { afterEach, describe, expect, test } from 'vitest';
import { ApiError } from '../api/client';
import i18n from '../i18n';
import { ActionError } from './ActionError';

afterEach(() => i18n.changeLanguage('en'));

describe('an action’s error', () => {
  test('shows nothing until the action fails, then the server’s words as an alert', () => {
    const { container, rerender } = render(<ActionError of={{ isError: false, error: null }} />);
    expect(container.textContent).toBe('');
    const bad = new ApiError(400, 'invalid_argument', "field 'to' must be coco, voc or yolo", 'req-1');
    rerender(<ActionError of={{ isError: true, error: bad }} />);
    const p = container.querySelector('p[role="alert"].error');
    expect(p?.textContent).toBe("field 'to' must be coco, voc or yolo");
  });

  test('a refusal is said in the user’s language, with what to do', async () => {
    await i18n.changeLanguage('zh-CN');
    const denied = new ApiError(403, 'permission_denied', 'permission denied');
    const { container } = render(<ActionError of={{ isError: true, error: denied }} />);
    expect(container.textContent).toBe('您无权在此执行该操作。请联系该工作空间或项目的管理员。');
  });
});
