// matrix.html: one self-contained page (no CDN: CSS and JS inline) with the
// scenario x runtime matrix grouped by area with pass counts, filters (area,
// verdict, only where runtimes differ), runtime names and versions in the
// header, and, on a click, a cell's step trace with each request and
// response and the behaviour diff against the other runtimes.
#pragma once

#include <string>
#include <string_view>

#include "nlohmann/json.hpp"

namespace crisp::report {

// `matrix_json` is what MatrixJson returns; the page carries it as data.
std::string MatrixHtml(const nlohmann::json& matrix_json);

// `page` with its "@DATA@" replaced by `data` as JSON that cannot close the
// script element it sits in (every '<' escaped): for self-contained pages.
std::string PageWithData(std::string_view page, const nlohmann::json& data);

}  // namespace crisp::report
