import { render } from '@testing-library/react';
import { afterEach, describe, expect, test } from 'vitest';
import i18n from '../i18n';
import { Reason } from './Reason';

afterEach(() => i18n.changeLanguage('en'));

describe('a job reason', () => {
  test('is the code in words, with the server’s detail when it adds something', () => {
    const { container, rerender } = render(
      <Reason reason="Queued" message="pending: project vision uses 4 of 4 GPUs" />,
    );
    expect(container.textContent).toBe('Waiting in the queue: pending: project vision uses 4 of 4 GPUs');
    rerender(<Reason reason="Succeeded" message="Succeeded" />);
    expect(container.textContent).toBe('Finished successfully');
  });

  test('follows the language, keeping the server’s numbers', async () => {
    await i18n.changeLanguage('zh-CN');
    const { container } = render(<Reason reason="Idle" message="no traffic for 2 s" />);
    expect(container.textContent).toBe('空闲后被停止: no traffic for 2 s');
  });

  test('an unknown code shows as it is; nothing shows nothing', () => {
    expect(render(<Reason reason="NewReason" message="" />).container.textContent).toBe('NewReason');
    expect(render(<Reason />).container.textContent).toBe('');
  });
});
