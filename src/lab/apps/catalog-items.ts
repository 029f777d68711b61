// The catalog's data, as the book's catalog service (istioinaction/catalog) serves it.

/** One catalog item; field order is the order the JSON is printed in. */
export interface CatalogItem {
  id: number;
  color: string;
  department: string;
  name: string;
  price: string;
  imageUrl?: string;
}

/** The four items the book's catalog starts with, in its order (the seed's `curl .../items` output). */
export const CATALOG_ITEMS: readonly Readonly<CatalogItem>[] = Object.freeze([
  { id: 1, color: 'amber', department: 'Eyewear', name: 'Elinor Glasses', price: '282.00' },
  { id: 2, color: 'cyan', department: 'Clothing', name: 'Atlas Shirt', price: '127.00' },
  { id: 3, color: 'teal', department: 'Clothing', name: 'Small Metal Shoes', price: '232.00' },
  { id: 4, color: 'red', department: 'Watches', name: 'Red Dragon Watch', price: '232.00' },
]);

/**
 * The image URL the book's catalog adds when SHOW_IMAGE is set: it calls faker 4.1's
 * `image.imageUrl()` with no arguments, which always yields this 640x480 placeholder.
 */
export const CATALOG_IMAGE_URL = 'http://lorempixel.com/640/480';

/**
 * The catalog's JSON rendering: Express with json-server's two-space indentation and no trailing
 * newline (the seed's gateway logs count 502 bytes for the four items).
 */
export function renderCatalogJson(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

/** An item as served: with images on, `imageUrl` is set on it (appended last unless already present). */
export function servedItem(
  item: Readonly<Record<string, unknown>>,
  showImage: boolean,
): Record<string, unknown> {
  return showImage ? { ...item, imageUrl: CATALOG_IMAGE_URL } : { ...item };
}
