import { describe, it, expect } from 'vitest';
import { splitBlocks } from '../src/markdown.js';

describe('splitBlocks', () => {
  it('cuts at blank lines before a line in column 0', () => {
    expect(splitBlocks('# A\n\npara one\nstill one\n\n\n- x\n- y\n').blocks).toEqual(['# A', 'para one\nstill one', '- x\n- y']);
  });
  it('keeps indented continuations (list paragraphs, indented code) in their block', () => {
    expect(splitBlocks('- item\n\n  more of it\n\n    code\nnext').blocks).toEqual(['- item\n\n  more of it\n\n    code\nnext']);
  });
  it('never cuts inside a fenced code block', () => {
    const t = '```js\na\n\nb\n```\n\nafter\n\n~~~~\nx\n\n~~~\ny\n~~~~';
    expect(splitBlocks(t).blocks).toEqual(['```js\na\n\nb\n```', 'after', '~~~~\nx\n\n~~~\ny\n~~~~']);
  });
  it('an inline code span of backticks is not a fence', () => {
    expect(splitBlocks('```inline``` text\n\nnext').blocks).toEqual(['```inline``` text', 'next']);
  });
  it('collects link reference definitions for every block', () => {
    const r = splitBlocks('see [x][a]\n\n[a]: https://example.org\n');
    expect(r.blocks).toEqual(['see [x][a]', '[a]: https://example.org']);
    expect(r.refs).toBe('[a]: https://example.org');
  });
  it('gives nothing for an empty text', () => {
    expect(splitBlocks('').blocks).toEqual([]);
    expect(splitBlocks('\n\n').blocks).toEqual([]);
  });
});
