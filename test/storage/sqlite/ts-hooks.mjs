// Lets a plain `node` child process load the TypeScript sources: the sources import siblings as `./x.js`
// (NodeNext style) while the files on disk are `x.ts`. Used with --experimental-transform-types.
import { registerHooks } from 'node:module';

registerHooks({
  resolve(specifier, context, next) {
    try {
      return next(specifier, context);
    } catch (e) {
      if (/^(\.|\/|file:)/.test(specifier) && specifier.endsWith('.js')) {
        return next(`${specifier.slice(0, -3)}.ts`, context);
      }
      throw e;
    }
  },
});
