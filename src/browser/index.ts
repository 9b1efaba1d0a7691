/** isobroker/browser — browser adapters: IndexedDB clone persistence (idb-keyval). */
export {};
