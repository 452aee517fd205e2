// Light or dark: follows the system (prefers-color-scheme) until the user
// picks one with the toggle; the choice is remembered in localStorage.
import { h } from './dom.js';

const THEME_KEY = 'cowrite:theme';

function stored() {
  try {
    const v = localStorage.getItem(THEME_KEY);
    return v === 'dark' || v === 'light' ? v : null;
  } catch {
    return null;
  }
}

const systemDark = () => window.matchMedia?.('(prefers-color-scheme: dark)').matches ?? false;

/** The theme in effect. */
export const currentTheme = () => stored() ?? (systemDark() ? 'dark' : 'light');

/** Applies the remembered choice (if any) to the page; call once at start. */
export function applyStoredTheme() {
  const t = stored();
  if (t) document.documentElement.dataset.theme = t;
  else delete document.documentElement.dataset.theme;
}

/** A button switching between light and dark (aria-pressed: dark is on). */
export function themeToggle() {
  const btn = h('button', { type: 'button', class: 'icon', 'data-testid': 'theme-toggle', 'aria-label': 'Dark theme', title: 'Dark theme' });
  const render = () => {
    const dark = currentTheme() === 'dark';
    btn.setAttribute('aria-pressed', String(dark));
    btn.textContent = dark ? '☾' : '☀';
  };
  btn.addEventListener('click', () => {
    const next = currentTheme() === 'dark' ? 'light' : 'dark';
    try {
      localStorage.setItem(THEME_KEY, next);
    } catch {
      /* not remembered: still applied to this page */
    }
    document.documentElement.dataset.theme = next;
    render();
  });
  window.matchMedia?.('(prefers-color-scheme: dark)').addEventListener?.('change', render);
  render();
  return btn;
}
