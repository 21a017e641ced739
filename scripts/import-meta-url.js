// Injected into each CommonJS bundle by scripts/bundle.js: import.meta.url is the bundle's own file URL.
export const importMetaUrl = require('node:url').pathToFileURL(__filename).href;
