import t from 'tap';
import { linkDownReason, signingTrouble } from './link-diagnosis.js';

t.test('signing mismatches are named from the link counters', async (t) => {
  t.match(signingTrouble({ framesIn: 0, badSignatures: 7 }), /7 frame\(s\).*failed the MAVLink signature check.*fc\.signingKeyFile/);
  t.match(signingTrouble({ framesIn: 0, unsignedDropped: 3 }), /does not sign its frames and fc\.acceptUnsigned is false/);
  t.equal(signingTrouble({ framesIn: 5, unsignedDropped: 3 }), undefined, 'some unsigned noise on a working link is not the trouble');
  t.match(signingTrouble({ framesIn: 9, signedUnverified: 9 }), /signs its frames.*set fc\.signingKeyFile/);
  t.equal(signingTrouble({ framesIn: 9 }), undefined);
  t.equal(signingTrouble({}), undefined, 'a port without counters (tests, fakes)');
});

t.test('linkDownReason adds the diagnosis only when there is one', async (t) => {
  t.equal(linkDownReason({}), 'flight-controller link is down');
  t.equal(linkDownReason({ badSignatures: 1 }, 'down'), "down: 1 frame(s) from the flight controller failed the MAVLink signature check: fc.signingKeyFile does not hold the FC's signing key");
});
