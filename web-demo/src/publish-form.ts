/**
 * The publish form: a topic, an event name and typed arguments, published as a Zeek event with
 * `endpoint.publish(topic, makeEvent(name, args))`. Invalid input is reported inline with the
 * SDK's own messages; nothing is sent until every argument is valid. The defaults (`Demo::ping` on
 * `demo/ping`) reach the demo cluster's manager, which answers with `Demo::pong` on `demo/pong`.
 */
import { makeEvent, toText, type Data, type Endpoint } from 'isobroker';
import { ARG_PLACEHOLDER, ARG_TYPES, parseArg, type ArgType } from './arg-parse.js';
import { typeLabel } from './data-format.js';
import { h } from './dom.js';

export interface PublishFormElements {
  readonly form: HTMLFormElement;
  readonly topic: HTMLInputElement;
  readonly name: HTMLInputElement;
  readonly args: HTMLElement;
  readonly addArg: HTMLButtonElement;
  readonly error: HTMLElement;
  readonly result: HTMLElement;
}

interface ArgRow {
  readonly root: HTMLElement;
  readonly type: HTMLSelectElement;
  readonly value: HTMLInputElement;
  readonly remove: HTMLButtonElement;
}

const INITIAL_ARGS: readonly (readonly [ArgType, string])[] = [
  ['string', 'hello from the dashboard'],
  ['count', '42'],
  ['addr', '10.0.0.1'],
];

export class PublishForm {
  private rows: ArgRow[] = [];

  constructor(
    private readonly endpoint: Endpoint,
    private readonly el: PublishFormElements,
    /** Whether `endpoint.hasRoute` knows the subscribers (native peerings; not a Zeek's JSON v1). */
    private readonly knowsRoutes: boolean,
    /** Called with every message sent (the event stream shows the page's own publishes). */
    private readonly onSent: (topic: string, data: Data) => void = () => undefined,
  ) {
    for (const [t, v] of INITIAL_ARGS) this.addRow(t, v);
    el.addArg.addEventListener('click', () => {
      this.addRow('string', '');
      this.rows[this.rows.length - 1]!.value.focus();
    });
    el.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.send();
    });
    el.form.addEventListener('input', () => this.showError(undefined));
  }

  private addRow(type: ArgType, value: string): void {
    const select = h(
      'select',
      { 'aria-label': 'argument type' },
      ...ARG_TYPES.map((t) => h('option', { value: t }, t)),
    );
    select.value = type;
    const input = h('input', {
      type: 'text',
      'aria-label': 'argument value',
      autocomplete: 'off',
      spellcheck: 'false',
    });
    input.value = value;
    input.placeholder = ARG_PLACEHOLDER[type];
    select.addEventListener('change', () => {
      input.placeholder = ARG_PLACEHOLDER[select.value as ArgType];
      input.removeAttribute('aria-invalid');
    });
    const remove = h('button', { type: 'button', class: 'icon', title: 'remove this argument' }, '×');
    const root = h('div', { class: 'arg-row' }, h('span', { class: 'arg-index' }), select, input, remove);
    const row: ArgRow = { root, type: select, value: input, remove };
    remove.addEventListener('click', () => {
      this.rows = this.rows.filter((r) => r !== row);
      root.remove();
      this.renumber();
    });
    this.rows.push(row);
    this.el.args.append(root);
    this.renumber();
  }

  /** Keeps `publish-arg-type-<i>` / `publish-arg-value-<i>` equal to the row's position. */
  private renumber(): void {
    this.rows.forEach((r, i) => {
      r.type.dataset.testid = `publish-arg-type-${i}`;
      r.value.dataset.testid = `publish-arg-value-${i}`;
      r.remove.dataset.testid = `publish-arg-remove-${i}`;
      r.root.querySelector('.arg-index')!.textContent = `${i + 1}`;
    });
    this.el.args.classList.toggle('empty', this.rows.length === 0);
  }

  private showError(message: string | undefined): void {
    this.el.error.hidden = message === undefined;
    this.el.error.textContent = message ?? '';
    if (message !== undefined) this.el.result.textContent = '';
  }

  private send(): void {
    for (const r of this.rows) r.value.removeAttribute('aria-invalid');
    this.el.topic.removeAttribute('aria-invalid');
    this.el.name.removeAttribute('aria-invalid');
    const topic = this.el.topic.value.trim();
    const name = this.el.name.value.trim();
    if (topic === '') {
      this.invalid(this.el.topic, 'the topic is empty');
      return;
    }
    if (name === '') {
      this.invalid(this.el.name, 'the event name is empty');
      return;
    }
    const args: Data[] = [];
    for (const [i, r] of this.rows.entries()) {
      try {
        args.push(parseArg(r.type.value as ArgType, r.value.value));
      } catch (err) {
        this.invalid(
          r.value,
          `argument ${i + 1} (${r.type.value}): ${err instanceof Error ? err.message : String(err)}`,
        );
        return;
      }
    }
    const event = makeEvent(name, args);
    try {
      this.endpoint.publish(topic, event);
    } catch (err) {
      this.showError(`not sent: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    this.showError(undefined);
    this.onSent(topic, event);
    const shown = `${name}(${args.map((a) => `${typeLabel(a)} ${toText(a)}`).join(', ')})`;
    const nobody = this.knowsRoutes && !this.endpoint.hasRoute(topic);
    this.el.result.textContent = `sent ${shown} on ${topic}${nobody ? ' — no subscriber of this topic is reachable, so nobody receives it' : ''}`;
    this.el.result.classList.toggle('warn', nobody);
  }

  private invalid(input: HTMLInputElement, message: string): void {
    input.setAttribute('aria-invalid', 'true');
    input.focus();
    this.showError(message);
  }
}
