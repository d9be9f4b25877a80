// The catalogues: the same keys and placeholders in both languages, nothing empty, and
// no visible text written into a component instead of the catalogue.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, test } from 'vitest';
import { en } from './en';
import { zhCN } from './zh-CN';

type Tree = { [k: string]: string | Tree };
function flatten(t: Tree, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(t)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'string') out.set(key, v);
    else for (const [kk, vv] of flatten(v, key)) out.set(kk, vv);
  }
  return out;
}
const placeholders = (s: string) => [...s.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]).sort();

describe('catalogues', () => {
  const a = flatten(en);
  const b = flatten(zhCN as unknown as Tree);
  test('have the same keys', () => {
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
  });
  test('have no empty text and the same placeholders', () => {
    for (const [k, v] of a) {
      expect(v.trim(), k).not.toBe('');
      expect(b.get(k)?.trim(), k).not.toBe('');
      expect(placeholders(b.get(k) ?? ''), k).toEqual(placeholders(v));
    }
  });
});

// Text a user sees: JSX text, and the attributes a screen reader or a hover shows.
const visibleAttributes = new Set(['alt', 'title', 'placeholder', 'aria-label', 'label']);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sources(p);
    return p.endsWith('.tsx') && !p.endsWith('.test.tsx') ? [p] : [];
  });
}

export function literalTexts(file: string, text: string): string[] {
  const found: string[] = [];
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TSX);
  const visit = (node: ts.Node) => {
    if (ts.isJsxText(node) && /[\p{L}]/u.test(node.text)) {
      found.push(node.text.trim());
    } else if (
      ts.isJsxAttribute(node) &&
      visibleAttributes.has(node.name.getText(sf)) &&
      node.initializer &&
      ts.isStringLiteral(node.initializer) &&
      /[\p{L}]/u.test(node.initializer.text)
    ) {
      found.push(`${node.name.getText(sf)}="${node.initializer.text}"`);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

describe('components', () => {
  test('the check finds literal text where it is', () => {
    expect(literalTexts('x.tsx', '<p title="Hello">Sign in <b>{t("k")}</b></p>')).toEqual([
      'title="Hello"',
      'Sign in',
    ]);
    expect(literalTexts('x.tsx', '<p aria-label={t("k")}>{t("k")}</p>')).toEqual([]);
  });
  test('render no literal text outside the catalogue', () => {
    const dir = join(process.cwd(), 'src/');
    const offenders = sources(dir).flatMap((f) =>
      literalTexts(f, readFileSync(f, 'utf8')).map((t) => `${f.slice(dir.length)}: ${t}`),
    );
    expect(offenders).toEqual([]);
  });
});

describe('keys', () => {
  test('every key a component names literally is in the catalogue', () => {
    const dir = join(process.cwd(), 'src/');
    const known = flatten(en);
    const missing: string[] = [];
    for (const f of sources(dir)) {
      // t('a.b') and t('a.b', ...): literal keys only (template keys are checked by the
      // pages' own tests and the browser tests' screenshots).
      for (const m of readFileSync(f, 'utf8').matchAll(/\bt\(\s*'([a-zA-Z0-9_.-]+)'/g)) {
        // (a plural key is KEY_one, KEY_other: i18next picks one by `count`)
        if (!known.has(m[1]) && !known.has(`${m[1]}_other`)) missing.push(`${f.slice(dir.length)}: ${m[1]}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
