// Entry point: routes / to the document list and /d/{id} to the editor.
import './style.css';
import { listPage } from './list.js';
import { editorPage } from './editor.js';
import { adoptTokenFromUrl } from './token.js';
import { applyStoredTheme } from './theme.js';

applyStoredTheme();
adoptTokenFromUrl();

const root = document.getElementById('app');
const m = location.pathname.match(/^\/d\/([^/]+)\/?$/);
if (m) {
  let id = m[1];
  try {
    id = decodeURIComponent(id);
  } catch {
    /* keep raw */
  }
  editorPage(root, id);
} else {
  listPage(root);
}
