import { assertAlmostEquals, assertThrows } from "@std/assert";
import { rmPairAccuracy } from "../../lib/rm/pair_accuracy.ts";
import { randomLabels, Rng } from "./_ref.ts";

Deno.test("rmPairAccuracy(): hand case with a tie and a no-pair group", () => {
  // group 0: scores [3,1,2], labels [1,0,0]: pairs (0,1) ok, (0,2) ok → 1
  // group 1: scores [1,1,0], labels [1,0,1]: (3,4) tie 0.5, (4,5) s4=1 > s5=0 but y4<y5 → 0 → 0.25
  // group 2: labels all 1 → 0.5;   mean = (1 + 0.25 + 0.5) / 3
  const acc = rmPairAccuracy([3, 1, 2, 1, 1, 0, 5, 6, 7], [1, 0, 0, 1, 0, 1, 1, 1, 1], {
    groupSize: 3,
  });
  assertAlmostEquals(acc, 1.75 / 3, 1e-12);
});

Deno.test("rmPairAccuracy() equals an all-pairs loop on random inputs", () => {
  for (const [g, n, seed] of [[2, 3, 1], [4, 5, 2], [8, 2, 3]] as const) {
    const rng = new Rng(seed);
    const b = g * n;
    const y = randomLabels(rng, b);
    const s = Array.from({ length: b }, () => rng.int(3)); // small ints make ties
    let tot = 0;
    for (let k = 0; k < n; k++) {
      let hit = 0, cnt = 0;
      for (let i = k * g; i < (k + 1) * g; i++) {
        for (let j = k * g; j < (k + 1) * g; j++) {
          if (y[i] === 1 && y[j] === 0) {
            cnt++;
            hit += s[i]! > s[j]! ? 1 : s[i] === s[j] ? 0.5 : 0;
          }
        }
      }
      tot += cnt ? hit / cnt : 0.5;
    }
    assertAlmostEquals(rmPairAccuracy(s, y, { groupSize: g }), tot / n, 1e-12);
  }
});

Deno.test("rmPairAccuracy() errors name the argument", () => {
  assertThrows(
    () => rmPairAccuracy([1, 2, 3], [1, 0, 1], { groupSize: 2 }),
    RangeError,
    "groupSize must divide the batch: B=3, G=2",
  );
  assertThrows(
    () => rmPairAccuracy([1, NaN], [1, 0], { groupSize: 2 }),
    RangeError,
    "Invalid scores",
  );
  assertThrows(
    () => rmPairAccuracy([1, 2], [1, 0.5], { groupSize: 2 }),
    RangeError,
    "Invalid labels: expected 0/1 values, got 0.5 at [1]",
  );
  assertThrows(() => rmPairAccuracy([1, 2], [1], { groupSize: 2 }), RangeError, "Invalid labels");
});
