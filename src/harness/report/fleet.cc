#include "harness/report/fleet.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "common/strings.h"
#include "harness/scenario/shard.h"

namespace crisp::report {
namespace {

using runner::RunResult;
using runner::ScenarioResult;
using runner::Verdict;

std::string NodeField(const RunResult& run, const char* key) {
  return run.node.is_object() ? run.node.value(key, "") : "";
}

std::string NodeName(const RunResult& run) {
  std::string name = NodeField(run, "name");
  return name.empty() ? "unknown-node" : name;
}

struct Column {
  RunResult run;
  std::vector<std::string> sources;
  std::vector<std::string> shards;  // as recorded, "" for a whole run
  std::map<std::string, std::pair<size_t, std::string>> where;  // scenario -> (index, source)
};

std::string GroupKey(const RunResult& run) {
  return crisp::StrCat(run.runtime_version.value("runtime_name", "?"), " ",
                       run.runtime_version.value("runtime_version", "?"), " · kernel ", NodeField(run, "kernel"),
                       " · ", NodeField(run, "os"));
}

std::string Escape(std::string text) {
  std::string out;
  for (char c : text) out += c == '|' ? std::string("\\|") : c == '\n' ? std::string(" ") : std::string(1, c);
  return out;
}

}  // namespace

nlohmann::json Fleet::ToJson() const {
  return {{"nodes", nodes}, {"groups", groups}, {"conflicts", conflicts}, {"notes", notes}};
}

absl::StatusOr<Fleet> FoldFleet(std::vector<FleetInput> inputs) {
  if (inputs.empty()) return absl::InvalidArgumentError("crisp merge: no runs to fold");
  std::map<std::pair<std::string, std::string>, Column> columns;
  std::vector<std::pair<std::string, std::string>> first_seen;
  Fleet fleet;
  for (FleetInput& input : inputs) {
    const std::pair<std::string, std::string> key{NodeName(input.run), input.run.endpoint.name};
    auto [it, fresh] = columns.try_emplace(key);
    Column& column = it->second;
    column.sources.push_back(input.source);
    column.shards.push_back(input.run.shard);
    if (fresh) {
      first_seen.push_back(key);
      column.run = input.run;
      column.run.scenarios.clear();
      // A merge merged again keeps its columns' names.
      column.run.endpoint.name = key.second.starts_with(key.first + "/") ? key.second
                                                                         : crisp::StrCat(key.first, "/", key.second);
    } else {
      RunResult& into = column.run;
      if (GroupKey(into) != GroupKey(input.run)) {
        fleet.conflicts.push_back(crisp::StrCat(into.endpoint.name, ": ", input.source, " ran on ",
                                                GroupKey(input.run), ", an earlier run on ", GroupKey(into)));
      }
      into.run_id = crisp::StrCat(into.run_id, "+", input.run.run_id);
      into.start = std::min(into.start, input.run.start);
      into.end = std::max(into.end, input.run.end);
      into.interrupted = into.interrupted || input.run.interrupted;
      into.swept += input.run.swept;
      into.sweep_failures.insert(into.sweep_failures.end(), input.run.sweep_failures.begin(),
                                 input.run.sweep_failures.end());
    }
    for (ScenarioResult& scenario : input.run.scenarios) {
      auto found = column.where.find(scenario.id);
      if (found == column.where.end()) {
        column.where[scenario.id] = {column.run.scenarios.size(), input.source};
        column.run.scenarios.push_back(std::move(scenario));
        continue;
      }
      ScenarioResult& kept = column.run.scenarios[found->second.first];
      const std::string& earlier = found->second.second;
      if (kept.verdict == scenario.verdict) {
        fleet.notes.push_back(crisp::StrCat(column.run.endpoint.name, ": ", scenario.id, " ran in both ", earlier,
                                            " and ", input.source, ", ", runner::VerdictName(kept.verdict),
                                            " both times; the first is shown"));
        continue;
      }
      std::string line = crisp::StrCat(column.run.endpoint.name, ": ", scenario.id, " is ",
                                       runner::VerdictName(kept.verdict), " in ", earlier, " but ",
                                       runner::VerdictName(scenario.verdict), " in ", input.source);
      fleet.conflicts.push_back(line);
      kept.reason = crisp::StrCat("conflicting verdicts: ", line,
                                  kept.reason.empty() ? "" : crisp::StrCat("; first: ", kept.reason),
                                  scenario.reason.empty() ? "" : crisp::StrCat("; second: ", scenario.reason));
      kept.verdict = Verdict::kError;
      kept.baseline.reset();
    }
  }

  // Shards: a column made of shards of N should have all N.
  for (auto& [key, column] : columns) {
    std::set<int> have;
    int count = 0;
    bool whole = false;
    for (const std::string& text : column.shards) {
      if (text.empty()) {
        whole = true;
        continue;
      }
      absl::StatusOr<scenario::Shard> shard = scenario::ParseShard(text);
      if (!shard.ok()) {
        fleet.notes.push_back(crisp::StrCat(column.run.endpoint.name, ": a run records shard \"", text,
                                            "\", which is not K/N"));
        continue;
      }
      if (count != 0 && shard->count != count) {
        fleet.notes.push_back(crisp::StrCat(column.run.endpoint.name, ": shards of different splits (",
                                            shard->count, " and ", count, " parts) were folded"));
      }
      count = shard->count;
      have.insert(shard->index);
    }
    if (!whole && count > 0) {
      for (int k = 1; k <= count; ++k) {
        if (!have.contains(k)) {
          fleet.notes.push_back(crisp::StrCat(column.run.endpoint.name, ": shard ", k, "/", count,
                                              " is missing; its scenarios are not run here"));
        }
      }
    }
    column.run.shard.clear();
    // The order of a whole run: by suite file, then as the run had them
    // (stable), so shards fold back into one run's order of files.
    std::stable_sort(column.run.scenarios.begin(), column.run.scenarios.end(),
                     [](const ScenarioResult& a, const ScenarioResult& b) { return a.file < b.file; });
  }

  // Groups in first-seen order; columns by group, then node name.
  std::vector<std::string> group_order;
  std::map<std::string, int> group_of;
  for (const auto& key : first_seen) {
    std::string group = GroupKey(columns.at(key).run);
    if (group_of.try_emplace(group, static_cast<int>(group_order.size()) + 1).second) group_order.push_back(group);
  }
  std::vector<std::pair<std::string, std::string>> order = first_seen;
  std::stable_sort(order.begin(), order.end(), [&](const auto& a, const auto& b) {
    return std::tie(group_of.at(GroupKey(columns.at(a).run)), a) <
           std::tie(group_of.at(GroupKey(columns.at(b).run)), b);
  });
  std::map<int, nlohmann::json> group_columns;
  for (const auto& key : order) {
    Column& column = columns.at(key);
    const RunResult& run = column.run;
    int group = group_of.at(GroupKey(run));
    group_columns[group].push_back(run.endpoint.name);
    std::vector<std::string> shards;
    for (const std::string& shard : column.shards) shards.push_back(shard.empty() ? "whole" : shard);
    fleet.nodes.push_back({{"column", run.endpoint.name},
                           {"node", NodeName(run)},
                           {"runtime", key.second},
                           {"kernel", NodeField(run, "kernel")},
                           {"os", NodeField(run, "os")},
                           {"arch", NodeField(run, "arch")},
                           {"runtime_name", run.runtime_version.value("runtime_name", "")},
                           {"runtime_version", run.runtime_version.value("runtime_version", "")},
                           {"group", group},
                           {"shards", shards},
                           {"sources", column.sources}});
    fleet.columns.push_back(std::move(column.run));
  }
  for (size_t i = 0; i < group_order.size(); ++i) {
    const RunResult* any = nullptr;
    for (const RunResult& run : fleet.columns) {
      if (GroupKey(run) == group_order[i]) any = &run;
    }
    fleet.groups.push_back({{"group", i + 1},
                            {"runtime_name", any->runtime_version.value("runtime_name", "")},
                            {"runtime_version", any->runtime_version.value("runtime_version", "")},
                            {"kernel", NodeField(*any, "kernel")},
                            {"os", NodeField(*any, "os")},
                            {"columns", group_columns[static_cast<int>(i) + 1]}});
  }
  return fleet;
}

std::string FleetMarkdown(const Fleet& fleet) {
  std::string md = crisp::StrCat("## crisp fleet: ", fleet.nodes.size(), " node run(s) in ", fleet.groups.size(),
                                 " group(s)\n\n| group | runtime | kernel | OS | columns |\n|---|---|---|---|---|\n");
  for (const nlohmann::json& group : fleet.groups) {
    std::vector<std::string> names;
    for (const nlohmann::json& name : group["columns"]) names.push_back(crisp::StrCat("`", name.get<std::string>(), "`"));
    crisp::StrAppend(&md, "| G", group["group"].get<int>(), " | ", Escape(group["runtime_name"].get<std::string>()),
                     " ", Escape(group["runtime_version"].get<std::string>()), " | ",
                     Escape(group["kernel"].get<std::string>()), " | ", Escape(group["os"].get<std::string>()), " | ");
    for (size_t i = 0; i < names.size(); ++i) crisp::StrAppend(&md, i ? ", " : "", names[i]);
    md += " |\n";
  }
  md += "\n";
  if (!fleet.conflicts.empty()) {
    crisp::StrAppend(&md, "**Conflicting verdicts (", fleet.conflicts.size(), "), shown as errors:**\n\n");
    for (const std::string& line : fleet.conflicts) crisp::StrAppend(&md, "- ", Escape(line), "\n");
    md += "\n";
  }
  if (!fleet.notes.empty()) {
    md += "**Notes:**\n\n";
    for (const std::string& line : fleet.notes) crisp::StrAppend(&md, "- ", Escape(line), "\n");
    md += "\n";
  }
  return md;
}

}  // namespace crisp::report
