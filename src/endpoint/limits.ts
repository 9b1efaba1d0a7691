/** Limits that keep one misbehaving peer from exhausting a hub. */

/** Most prefixes one endpoint or JSON v1 client may subscribe to; a flood beyond it is refused. */
export const MAX_FILTER_PREFIXES = 100_000;
/** Most direct peers one endpoint may announce. */
export const MAX_NEIGHBORS = 10_000;
