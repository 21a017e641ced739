// Copied by scripts/bundle.js to dist/app/lib/load-cached.js. Runs a bundled
// program (or the configuration libraries) from the V8 code cache made for it
// at build time, next to it as FILE.v8: V8 then reads the compiled code
// instead of parsing the whole bundle again on every start. The cache lives
// in the installed package, written once by the build, never at run time (a
// cache is code, so it must be as trusted as the program). A cache made by
// another node version or with other V8 flags is rejected by V8 itself, and
// the file is then simply compiled from its source.
'use strict';
const { readFileSync } = require('node:fs');
const { dirname } = require('node:path');
const { createRequire } = require('node:module');
const { Script } = require('node:vm');

const WRAP = ['(function (exports, require, module, __filename, __dirname) { ', '\n})'];
const loaded = new Map();

/** The source as compiled: the same text at build time and at run time, or the cache does not match. */
function wrapped(file) {
  return WRAP[0] + readFileSync(file, 'utf8').replace(/^#!.*/, '') + WRAP[1];
}

/** The cache for FILE's wrapped source, made by the build (scripts/bundle.js). */
function cacheData(file) {
  return new Script(wrapped(file), { filename: file }).createCachedData();
}

/**
 * The cache for FILE made after running it and then warm(its exports): V8
 * then keeps the code of every function the warm-up compiled, where a cache
 * made before any run holds little more than the top level, and each start
 * compiles the rest again.
 */
function warmCacheData(file, warm) {
  const script = new Script(wrapped(file), { filename: file });
  const mod = { exports: {} };
  script.runInThisContext().call(mod.exports, mod.exports, createRequire(file), mod, file, dirname(file));
  warm(mod.exports);
  return script.createCachedData();
}

/** Runs FILE (CommonJS) once and returns its exports; its require of another cached file comes here too. */
function load(file) {
  const done = loaded.get(file);
  if (done) return done.exports;
  let cachedData;
  try {
    cachedData = readFileSync(file + '.v8');
  } catch {
    cachedData = undefined;
  }
  const fn = new Script(wrapped(file), { filename: file, cachedData }).runInThisContext();
  const dir = dirname(file);
  const plain = createRequire(file);
  const req = (id) => (id.startsWith('../lib/') && id !== '../lib/load-cached.js' ? load(plain.resolve(id)) : plain(id));
  req.resolve = plain.resolve;
  const mod = { exports: {}, filename: file, id: file, loaded: false };
  loaded.set(file, mod);
  fn.call(mod.exports, mod.exports, req, mod, file, dir);
  mod.loaded = true;
  return mod.exports;
}

module.exports = { load, cacheData, warmCacheData };
