// matrix.html: one self-contained page (no CDN: CSS and JS inline) with the
// scenario x runtime matrix grouped by area, filters (area, verdict, only
// where runtimes differ), and, on a click, a cell's step trace with each
// request and response and how the other runtimes answered the same steps.
#pragma once

#include <string>
#include <vector>

#include "harness/runner/result.h"

namespace crisp::report {

std::string MatrixHtml(const std::vector<runner::RunResult>& runs);

}  // namespace crisp::report
