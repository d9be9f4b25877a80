// i18next with the two catalogues; the language is the user's choice (kept in this
// browser), else the browser's, else English. Dates and numbers follow it (format.ts).
import i18n from 'i18next';
import { initReactI18next } from 'react-i18next';
import { en } from './en';
import { zhCN } from './zh-CN';

export const languages = [
  { code: 'en', label: 'English' },
  { code: 'zh-CN', label: '简体中文' },
] as const;
export type Language = (typeof languages)[number]['code'];

const stored = typeof localStorage !== 'undefined' ? localStorage.getItem('jz.lang') : null;
const browser = typeof navigator !== 'undefined' ? navigator.language : 'en';
export const initialLanguage: Language =
  stored === 'en' || stored === 'zh-CN' ? stored : browser.toLowerCase().startsWith('zh') ? 'zh-CN' : 'en';

void i18n.use(initReactI18next).init({
  resources: { en: { translation: en }, 'zh-CN': { translation: zhCN } },
  lng: initialLanguage,
  fallbackLng: false,
  interpolation: { escapeValue: false },
  returnNull: false,
});

export function setLanguage(lang: Language): void {
  localStorage.setItem('jz.lang', lang);
  void i18n.changeLanguage(lang);
  document.documentElement.lang = lang;
}

export default i18n;
