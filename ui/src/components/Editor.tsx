// The PromQL editor: CodeMirror 6 with codemirror-promql (highlighting, linting, and
// completion of functions, metric names, label names and values from Vigil's API).
// Enter runs the query, Shift+Enter inserts a newline.
//
// The text is reported to the parent (onChange) once typing pauses, on blur and before a
// submit, not on every keystroke: re-rendering the parent between fast keystrokes while
// the completion list is open hung headless Chromium's renderer in the browser tests.
import { useEffect, useRef } from 'preact/hooks';
import { EditorState, Prec } from '@codemirror/state';
import { EditorView, keymap, placeholder as cmPlaceholder, highlightSpecialChars, drawSelection } from '@codemirror/view';
import { defaultKeymap, history, historyKeymap, insertNewline } from '@codemirror/commands';
import { autocompletion, closeBrackets, closeBracketsKeymap, completionKeymap } from '@codemirror/autocomplete';
import { bracketMatching, HighlightStyle, syntaxHighlighting } from '@codemirror/language';
import { tags } from '@lezer/highlight';
import { PromQLExtension } from '@prometheus-io/codemirror-promql';

let promql: PromQLExtension | null = null;

const pendingFlushes = new Set<() => void>();

/** Reports every editor's current text now (call before reading values on a button click). */
export function flushEditors() {
  pendingFlushes.forEach((f) => f());
}

function promqlExtension(): PromQLExtension {
  // One client for every editor, so the metric name cache is shared.
  if (!promql) {
    promql = new PromQLExtension().setComplete({
      remote: { url: window.location.origin, httpMethod: 'GET', cache: { maxAge: 60_000 } },
    });
  }
  return promql;
}

// PromQL colours from CSS variables (style.css), so the light and dark themes both read well.
const highlight = HighlightStyle.define([
  { tag: tags.function(tags.variableName), color: 'var(--hl-function)' },
  { tag: [tags.operatorKeyword, tags.modifier, tags.logicOperator], color: 'var(--hl-keyword)', fontWeight: '600' },
  { tag: tags.labelName, color: 'var(--hl-label)' },
  { tag: tags.string, color: 'var(--hl-string)' },
  { tag: tags.number, color: 'var(--hl-number)' },
  { tag: tags.comment, color: 'var(--muted)', fontStyle: 'italic' },
  { tag: tags.invalid, color: 'var(--red)' },
]);

const theme = EditorView.theme({
  '&': { fontSize: '13px', color: 'var(--fg)', background: 'var(--card)', border: '1px solid var(--input-line)', borderRadius: '4px' },
  '.cm-cursor': { borderLeftColor: 'var(--fg)' },
  '&.cm-focused .cm-selectionBackground, .cm-selectionBackground': { background: 'var(--accent-bg) !important' },
  '.cm-tooltip': { background: 'var(--card)', color: 'var(--fg)', border: '1px solid var(--input-line)' },
  '.cm-tooltip-autocomplete > ul > li[aria-selected]': { background: 'var(--accent)', color: '#fff' },
  '&.cm-focused': { outline: '2px solid #7aa7e6', outlineOffset: '-1px' },
  '.cm-content': { fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace', padding: '6px 0' },
  '.cm-line': { padding: '0 8px' },
  '.cm-tooltip.cm-tooltip-autocomplete > ul': { fontFamily: 'ui-monospace, Menlo, Consolas, monospace', maxHeight: '16em' },
  '.cm-placeholder': { color: '#8a93a3' },
});

export function PromQLEditor(props: {
  value: string;
  onChange: (v: string) => void;
  onSubmit: () => void;
  placeholder?: string;
}) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const cb = useRef(props);
  cb.current = props;
  // The text this editor last reported through onChange. A value prop equal to it is our
  // own edit coming back (possibly late, after more typing), not an outside change.
  const emitted = useRef(props.value);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const flush = () => {
    if (timer.current) clearTimeout(timer.current);
    timer.current = null;
    const v = view.current;
    if (!v) return;
    const text = v.state.doc.toString();
    if (text !== emitted.current) {
      emitted.current = text;
      cb.current.onChange(text);
    }
  };

  useEffect(() => {
    const submit = keymap.of([
      { key: 'Enter', run: () => (flush(), cb.current.onSubmit(), true) },
      { key: 'Shift-Enter', run: insertNewline },
      { key: 'Mod-Enter', run: () => (flush(), cb.current.onSubmit(), true) },
    ]);
    const v = new EditorView({
      parent: host.current!,
      state: EditorState.create({
        doc: props.value,
        extensions: [
          highlightSpecialChars(),
          history(),
          drawSelection(),
          closeBrackets(),
          bracketMatching(),
          autocompletion({ activateOnTyping: true }),
          syntaxHighlighting(highlight),
          EditorView.lineWrapping,
          cmPlaceholder(props.placeholder ?? 'Expression (press Enter to run, Shift+Enter for a new line)'),
          // Completion takes Enter first when its list is open; otherwise Enter runs the query.
          Prec.highest(keymap.of(completionKeymap)),
          Prec.high(submit),
          keymap.of([...closeBracketsKeymap, ...defaultKeymap, ...historyKeymap]),
          promqlExtension().asExtension(),
          theme,
          EditorView.updateListener.of((u) => {
            if (u.docChanged) {
              if (timer.current) clearTimeout(timer.current);
              timer.current = setTimeout(flush, 300);
            }
            if (u.focusChanged && !u.view.hasFocus) flush();
          }),
          EditorView.contentAttributes.of({ 'aria-label': 'PromQL expression', 'data-testid': 'promql-editor' }),
        ],
      }),
    });
    view.current = v;
    pendingFlushes.add(flush);
    return () => {
      flush();
      pendingFlushes.delete(flush);
      v.destroy();
    };
  }, []);

  // Outside changes (history navigation, a loaded URL) replace the text. Effects may run
  // late, after more typing, so compare the newest props, never this render's closure.
  useEffect(() => {
    const v = view.current;
    const want = cb.current.value;
    if (!v || want === emitted.current) return;
    emitted.current = want;
    if (v.state.doc.toString() !== want) v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: want } });
  }, [props.value]);

  return <div class="editor" ref={host} />;
}
