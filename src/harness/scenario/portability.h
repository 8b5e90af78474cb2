// The portability lint of `crisp validate`: checks that pin one runtime's
// habits instead of a CRI rule. A scenario is a claim about the CRI; where
// the CRI leaves a form to the runtime (the shape of an ID, extra labels,
// extra list items), a check must not pin it, unless the scenario says why
// with `strict: <reason>`.
#pragma once

#include <vector>

#include "harness/scenario/loader.h"
#include "harness/scenario/model.h"

namespace crisp::scenario {

// One warning per check that
// - matches an identifier the runtime chooses (id, image_ref, image_id,
//   container_id, pod_sandbox_id) against a pattern that fixes its form,
//   rather than only asking for something there ('\S');
// - compares a whole map or list the runtime may extend (labels, info,
//   conditions, mounts, and the lists that List* calls answer) for equality,
//   rather than asking that it contain what was sent.
// Scenarios with `strict:` are skipped.
std::vector<Diagnostic> PortabilityWarnings(const Suite& suite);

}  // namespace crisp::scenario
