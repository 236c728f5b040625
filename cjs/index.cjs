'use strict';
// The CommonJS entry: `require('roots-nlp')`. roots-nlp is ESM; Node loads an ES module from require()
// (require(esm): on by default since Node 20.19 and 22.12; Node 20.17/20.18 need
// --experimental-require-module). The caller gets the very module instance that `import` gives, so
// there is one copy of every class (instanceof RootsError holds across the two) and one native addon,
// which a second, compiled CommonJS copy of the library could not promise.
try {
  module.exports = require('../dist/index.js');
} catch (e) {
  if (e && e.code === 'ERR_REQUIRE_ESM') {
    throw new Error(`require('roots-nlp') needs Node >= 20.19 (it loads the ES module through require); this is Node ${process.versions.node}. Upgrade Node, run with --experimental-require-module, or use \`await import('roots-nlp')\`.`, { cause: e });
  }
  throw e;
}
