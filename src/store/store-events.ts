/** The change feed of a store, for UIs: what happened to which key, with old and new values. */
import type { Data } from '../data/types.js';

/** One change of one key as a master applied it (`onChange`): the operation, the key, and old and new values. */
export type StoreChangeEvent =
  | { readonly type: 'insert'; readonly key: Data; readonly newValue: Data }
  | { readonly type: 'update'; readonly key: Data; readonly oldValue: Data; readonly newValue: Data }
  | { readonly type: 'erase'; readonly key: Data; readonly oldValue?: Data }
  | { readonly type: 'expire'; readonly key: Data; readonly oldValue?: Data }
  | { readonly type: 'clear' };
