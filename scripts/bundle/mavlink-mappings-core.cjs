// What node-mavlink needs from mavlink-mappings inside the agent bundle (scripts/bundle/bundle.ts aliases
// the package to this file): the CRC, the data-class base and the CRC-extra table. The package's own
// index also loads every dialect and, through mavlink-mappings-gen, the XML code generator — ~4 MB of
// heap and ~120 ms at every start. The agent's messages come from agent/fc/dialect.ts instead.
const dialect = (name) => ({
  get() {
    throw new Error(`the aim-agent bundle does not carry mavlink-mappings' ${name} dialect: add the message to scripts/gen-dialect.ts`);
  },
  enumerable: true,
});

module.exports = Object.defineProperties(
  {
    ...require('mavlink-mappings-gen/dist/generator/utils.js'),
    ...require('mavlink-mappings/dist/lib/types.js'),
    ...require('mavlink-mappings/dist/lib/mavlink.js'),
    ...require('mavlink-mappings/dist/lib/magic-numbers.js'),
  },
  Object.fromEntries(
    ['minimal', 'common', 'standard', 'ardupilotmega', 'uavionix', 'icarous', 'asluav', 'development', 'ualberta', 'storm32'].map((n) => [n, dialect(n)]),
  ),
);
