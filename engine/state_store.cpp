#include "engine/state_store.h"

#include "engine/error.h"
#include "engine/kernel.h"

namespace frost {

StateStore::StateStore(std::string_view backend) : backend_(get_backend(backend)) {}

StateStore::~StateStore() {
  for (auto& [name, e] : states_)
    if (e.data != nullptr && e.backend_owned) backend_.free(e.data);
}

namespace {
const char* kind_name(StateKind k) {
  return k == StateKind::Parameter ? "a parameter" : "optimizer state";
}
}  // namespace

void StateStore::check(const std::string& name, const TensorType& type, StateKind kind) const {
  auto it = states_.find(name);
  if (it == states_.end()) return;
  FROST_CHECK(it->second.type == type && it->second.kind == kind, InvalidArgument,
              "state '" << name << "' is " << to_string(it->second.type) << ", " << kind_name(it->second.kind)
                        << ", in the shared store, but a graph declares it " << to_string(type) << ", "
                        << kind_name(kind));
}

void* StateStore::bind(const std::string& name, const TensorType& type, StateKind kind,
                       const HostTensor* init) {
  check(name, type, kind);
  if (auto it = states_.find(name); it != states_.end()) return it->second.data;
  const size_t bytes = size_t(type.shape.numel()) * size_of(type.dtype);
  void* data = backend_.alloc(bytes);  // zero-filled
  if (init != nullptr) backend_.copy_from_host(data, init->raw(), init->bytes());
  states_.emplace(name, Entry{type, kind, data, bytes});
  return data;
}

void StateStore::adopt(const std::string& name, StateKind kind, HostTensor value) {
  FROST_CHECK(!states_.count(name), InvalidArgument,
              "state '" << name << "' is in the store already; a state is adopted before any graph binds it");
  const TensorType type{value.dtype(), value.shape()};
  const size_t bytes = value.bytes();
  if (!backend_.is_host()) {  // a device copy; the host tensor is released on return
    void* data = backend_.alloc(bytes);
    backend_.copy_from_host(data, value.raw(), bytes);
    states_.emplace(name, Entry{type, kind, data, bytes});
    return;
  }
  Entry e{type, kind, value.raw(), bytes};
  e.adopted = std::move(value);  // the buffer moves with its memory: `data` stays valid
  e.backend_owned = false;
  states_.emplace(name, std::move(e));
}

std::vector<std::string> StateStore::names() const {
  std::vector<std::string> out;
  for (const auto& [name, e] : states_) out.push_back(name);
  return out;
}

const StateStore::Entry& StateStore::entry(const std::string& name) const {
  auto it = states_.find(name);
  FROST_CHECK(it != states_.end(), InvalidArgument, "the state store has no state named '" << name << "'");
  return it->second;
}

const TensorType& StateStore::type(const std::string& name) const {
  return entry(name).type;
}

StateKind StateStore::kind(const std::string& name) const {
  return entry(name).kind;
}

HostTensor StateStore::copy(const std::string& name) const {
  const Entry& e = entry(name);
  HostTensor t(e.type.dtype, e.type.shape);
  backend_.copy_to_host(t.raw(), e.data, e.bytes);
  return t;
}

void StateStore::set(const std::string& name, const HostTensor& data) {
  const Entry& e = entry(name);
  FROST_CHECK(data.dtype() == e.type.dtype && data.shape() == e.type.shape, InvalidArgument,
              "state '" << name << "' is " << to_string(e.type) << ", got " << data.dtype() << data.shape());
  backend_.copy_from_host(e.data, data.raw(), e.bytes);
  advance_state_epoch();  // after the write: a run that packs in between packs the old values, marked old
}

void StateStore::zero(const std::string& name) {
  const Entry& e = entry(name);
  backend_.memset(e.data, 0, e.bytes);
  advance_state_epoch();
}

size_t StateStore::bytes(StateKind kind) const {
  size_t total = 0;
  for (const auto& [name, e] : states_)
    if (e.kind == kind) total += e.bytes;
  return total;
}

}  // namespace frost
