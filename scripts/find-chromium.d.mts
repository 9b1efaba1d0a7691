/** Types for scripts/find-chromium.mjs (plain Node ESM, so that it runs before any build). */
export declare const CHROMIUM_LOCATIONS: readonly string[];
export declare const CHROMIUM_NAMES: readonly string[];
export declare const CHROMIUM_MISSING: string;
export declare function isExecutable(path: string): boolean;
export declare function which(name: string, pathVar?: string, exists?: (path: string) => boolean): string | undefined;
export interface FindChromiumOptions {
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly locations?: readonly string[];
  readonly names?: readonly string[];
  readonly exists?: (path: string) => boolean;
}
export declare function findChromium(options?: FindChromiumOptions): string | undefined;
export declare function canInstallWithApt(): boolean;
