// Persistent state shared by several compiled graphs. A training step with gradient accumulation is two
// graphs — a micro-step (forward + backward, gradients added into accumulators) run K times, then an
// update (clipping, AdamW, accumulators zeroed) — that read and write the same parameters, moments and
// accumulators. Compiled with the same store, their state values are bound by name to the store's buffers
// instead of each graph's own weights arena, so nothing is copied between them.
//
//   auto store = std::make_shared<StateStore>("cpu");
//   auto micro = compile(micro_graph, {.states = store});    // binds "w", "grad.w"
//   auto update = compile(update_graph, {.states = store});  // the same "w" and "grad.w" buffers
//   store->copy("w");                                        // a host copy, whichever graph wrote it
//
// A state is made on its first bind (from the graph's initial value, or zeros); a later bind must agree on
// dtype, shape and kind, or compile throws InvalidArgument naming the state and both types. Buffers are
// allocated at compile time, never by run(). Not thread-safe: one compile at a time per store.
//
// A state may also be given before any graph binds it (`adopt`): on a host backend the store then keeps
// the tensor itself and every graph computes on its memory — inference graphs compiled over weights read
// from a file use the file's mapped pages, with no copy at all.
#pragma once

#include <atomic>
#include <map>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/graph.h"
#include "engine/storage.h"

namespace frost {

class StateStore {
 public:
  explicit StateStore(std::string_view backend = "cpu");
  ~StateStore();
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  Backend& backend() const { return backend_; }
  // Throws InvalidArgument, changing nothing, when state `name` exists with another type or kind.
  void check(const std::string& name, const TensorType& type, StateKind kind) const;
  // The buffer of state `name`, made on first request; see the header comment for the rules.
  void* bind(const std::string& name, const TensorType& type, StateKind kind, const HostTensor* init);
  // Makes state `name` from `value` before any graph binds it: on a host backend the store takes the
  // tensor (its memory, borrowed or owned, becomes the state's buffer: no copy), elsewhere it is copied to
  // a new buffer. Throws InvalidArgument when `name` exists already.
  void adopt(const std::string& name, StateKind kind, HostTensor value);

  bool contains(const std::string& name) const { return states_.count(name) != 0; }
  std::vector<std::string> names() const;  // sorted
  const TensorType& type(const std::string& name) const;
  StateKind kind(const std::string& name) const;
  HostTensor copy(const std::string& name) const;
  void set(const std::string& name, const HostTensor& data);  // dtype and shape must match
  void zero(const std::string& name);
  // Bytes held for states of this kind.
  size_t bytes(StateKind kind) const;
  // Set when a graph bound to this store has handed out a writable state() view: every graph bound to it
  // then treats state as changed at each run (engine/kernel.h, the state epoch).
  void mark_views_escaped() { views_escaped_ = true; }
  bool views_escaped() const { return views_escaped_; }

 private:
  struct Entry {
    TensorType type;
    StateKind kind;
    void* data;
    size_t bytes;
    HostTensor adopted;  // holds `data` for states adopted on a host backend; empty when the backend owns it
    bool backend_owned = true;
  };
  const Entry& entry(const std::string& name) const;
  Backend& backend_;
  std::map<std::string, Entry> states_;
  std::atomic<bool> views_escaped_{false};
};

}  // namespace frost
