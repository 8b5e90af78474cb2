// The one locking scheme of crispd's sandboxes and containers.
//
// Three kinds of lock, always taken in this order, each released before a
// lock to its left is taken:
//
//   Entry::lifecycle  one per object; held by the operation that changes the
//                     object (run/create, start, stop, remove) for as long
//                     as that takes, subprocesses and grace periods
//                     included. Operations on one object queue; on different
//                     objects they run in parallel. A sandbox's lifecycle is
//                     taken before any of its containers'.
//   Entry::mu         guards the record; held only to read or write fields,
//                     never across a subprocess, a sleep, a CNI or image
//                     store call. Status and List take only this, so they
//                     never wait for a StopContainer's grace period.
//   ObjectTable::mu_  guards the index (ID → entry, name key → ID); held
//                     only to look up, reserve or erase.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/strings.h"

namespace crisp::crispd {

template <typename Record>
struct Entry {
  explicit Entry(Record initial) : record(std::move(initial)) {}

  absl::Mutex lifecycle;
  mutable absl::Mutex mu ABSL_ACQUIRED_AFTER(lifecycle);
  Record record ABSL_GUARDED_BY(mu);
  // Erased from the table: whoever waited on `lifecycle` must act as if
  // the object were unknown.
  bool removed ABSL_GUARDED_BY(mu) = false;

  Record Snapshot() const ABSL_LOCKS_EXCLUDED(mu) {
    absl::MutexLock lock(&mu);
    return record;
  }
  // The record, unless the object was removed (by an operation that held
  // `lifecycle` before the caller got it).
  std::optional<Record> SnapshotUnlessRemoved() const ABSL_LOCKS_EXCLUDED(mu) {
    absl::MutexLock lock(&mu);
    if (removed) return std::nullopt;
    return record;
  }
};

template <typename Record>
class ObjectTable {
 public:
  using EntryPtr = std::shared_ptr<Entry<Record>>;

  // By exact ID or unique prefix; null when unknown or ambiguous.
  EntryPtr Find(const std::string& id) const ABSL_LOCKS_EXCLUDED(mu_) {
    if (id.empty()) return nullptr;
    absl::MutexLock lock(&mu_);
    if (auto exact = entries_.find(id); exact != entries_.end()) return exact->second;
    EntryPtr found;
    for (auto it = entries_.lower_bound(id); it != entries_.end() && it->first.starts_with(id); ++it) {
      if (found) return nullptr;  // ambiguous
      found = it->second;
    }
    return found;
  }

  // Every entry, in ID order, for List and for sweeps.
  std::vector<EntryPtr> All() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    std::vector<EntryPtr> all;
    all.reserve(entries_.size());
    for (const auto& [id, entry] : entries_) all.push_back(entry);
    return all;
  }

  // Adds `record` as `id`, unless another object holds `name_key` (the
  // CRI's name reservation: "must be unique"); then AlreadyExists naming it.
  absl::StatusOr<EntryPtr> Reserve(const std::string& id, const std::string& name_key, Record record,
                                   const std::string& what) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (auto held = names_.find(name_key); held != names_.end()) {
      return absl::AlreadyExistsError(crisp::StrCat(what, " already exists: ", held->second));
    }
    auto entry = std::make_shared<Entry<Record>>(std::move(record));
    entries_[id] = entry;
    names_[name_key] = id;
    return entry;
  }

  // Removes `id` and frees its name; marks the entry removed.
  void Erase(const std::string& id) ABSL_LOCKS_EXCLUDED(mu_) {
    EntryPtr entry;
    {
      absl::MutexLock lock(&mu_);
      auto it = entries_.find(id);
      if (it == entries_.end()) return;
      entry = it->second;
      entries_.erase(it);
      for (auto name = names_.begin(); name != names_.end(); ++name) {
        if (name->second == id) {
          names_.erase(name);
          break;
        }
      }
    }
    absl::MutexLock lock(&entry->mu);
    entry->removed = true;
  }

  size_t size() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return entries_.size();
  }

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, EntryPtr> entries_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> names_ ABSL_GUARDED_BY(mu_);  // name key → ID
};

}  // namespace crisp::crispd
