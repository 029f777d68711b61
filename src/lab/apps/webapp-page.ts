// The webapp's home page: a small HTML table of catalog items, as the book's webapp renders.
import type { WebappCatalogItem } from './webapp-client.js';

/** The book's page shows at most four items. */
const PAGE_ITEMS = 4;

export const CATALOG_UNAVAILABLE = 'The catalog service is currently not available.';

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The page for a catalog answer, or for a failed call when `items` is undefined. */
export function renderIndexPage(items: readonly WebappCatalogItem[] | undefined): string {
  const rows = items
    ?.slice(0, PAGE_ITEMS)
    .map(
      (i) =>
        `      <tr><th>${escapeHtml(i.name)}</th><td>${escapeHtml(i.color)}</td><td>${escapeHtml(i.price)}</td></tr>\n`,
    )
    .join('');
  const content =
    rows === undefined
      ? `    <p>${CATALOG_UNAVAILABLE}</p>\n`
      : '    <table>\n' +
        '      <thead><tr><th>Product</th><th>Color</th><th>Price</th></tr></thead>\n' +
        '      <tbody>\n' +
        rows +
        '      </tbody>\n' +
        '    </table>\n';
  return (
    '<!doctype html>\n' +
    '<html lang="en">\n' +
    '<head>\n' +
    '  <meta charset="UTF-8">\n' +
    '  <title>Web App - Istio in Action</title>\n' +
    '</head>\n' +
    '<body>\n' +
    '  <h1>Service data</h1>\n' +
    '  <section id="catalog">\n' +
    '    <h2>Data from the Catalog service</h2>\n' +
    content +
    '  </section>\n' +
    '</body>\n' +
    '</html>\n'
  );
}
