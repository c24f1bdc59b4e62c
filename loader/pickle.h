// A Python pickle reader that executes nothing (protocols 0-5): the objects a pickle describes are built as
// inert values in an arena, and nothing named in the pickle is ever called. GLOBAL / STACK_GLOBAL give a
// reference to a name; REDUCE, NEWOBJ, NEWOBJ_EX, INST and OBJ ask the caller's `call` hook, which
// interprets the callables it allows (loader/pytorch_checkpoint.cpp: tensor rebuild functions) and declines
// the rest; then the pickle's own small allow-list (collections.OrderedDict, set, frozenset, _codecs.encode,
// torch.Size) is tried, and anything else becomes a Placeholder recording the global's name, its arguments
// and any BUILD state — `os.system` in a hostile file is a name in a table, never a call.
//
//   pickle::Unpickler u(bytes, "model.pth.tar: data.pkl");   // `what` names the source in errors
//   u.on_persistent = [&](pickle::Unpickler& u, pickle::Id pid) { ... return u.add_opaque(k); };
//   const pickle::Id root = u.load();                          // runs to STOP; u.position() is after it
//   const pickle::Value& v = u.value(root);                    // v.kind, v.items, ...
//
// Values refer to each other by 32-bit Id into the arena (cycles, made with the memo, are harmless: nothing
// is reference-counted). Bounded: every length is checked against the remaining input before anything is
// allocated, the arena holds at most kMaxObjects values, the stack and the mark stack grow at most one
// entry per input byte, memo indices must have been PUT before they are read.
// Errors: BadFile naming `what`, the opcode (byte and offset) and the rule broken — an unknown opcode, a
// truncated argument, a memo index never stored, a stack underflow, REDUCE on something not callable;
// Unsupported for valid pickles frost does not read (the extension registry EXT1-4, out-of-band buffers).
// Integers wider than 64 bits are kept as BigInt (their bytes), and refused by name only when a number is
// needed (int_of).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace frost::loader::pickle {

using Id = uint32_t;

enum class Kind : uint8_t {
  None,
  Bool,
  Int,
  BigInt,
  Float,
  Str,
  Bytes,  // scalars (BigInt: little-endian two's complement in `text`)
  Tuple,
  List,
  Dict,
  Set,          // containers: `items` (Dict: key, value, key, value, ...)
  Global,       // a name: `text` = "module.name"
  Placeholder,  // a call not made: `text` = the global's name, items = {args, state}
  Opaque,       // the caller's object (a storage, a tensor): `number` is its handle
};
const char* kind_name(Kind kind);  // "int", "dict", "global", ...

struct Value {
  Kind kind = Kind::None;
  int64_t number = 0;     // Bool, Int, Opaque
  double real = 0;        // Float
  std::string text;       // Str (UTF-8 as stored), Bytes, BigInt, Global and Placeholder names
  std::vector<Id> items;  // containers; Placeholder: {args, state} (kNoId when absent)
};
inline constexpr Id kNoId = 0xFFFFFFFFu;

class Unpickler {
 public:
  static constexpr size_t kMaxObjects = 20'000'000;

  Unpickler(std::span<const std::byte> bytes, std::string what, size_t start = 0);

  // persistent_load: given the persistent id's value, returns the object it stands for (BadFile without a
  // hook).
  std::function<Id(Unpickler&, Id pid)> on_persistent;
  // call: `callable(args)` for an allowed callable (returns the result), or nullopt to decline. `name` is
  // "module.name"; args is a Tuple id (NEWOBJ_EX's keyword arguments are dropped).
  std::function<std::optional<Id>(Unpickler&, const std::string& name, Id args)> on_call;

  // Runs from the start offset to the STOP opcode and returns the object on top of the stack.
  Id load();
  size_t position() const { return pos_; }  // just after STOP once load() returned

  const Value& value(Id id) const { return arena_.at(id); }
  size_t size() const { return arena_.size(); }
  Id add(Value v);
  Id add_opaque(int64_t handle) { return add(Value{Kind::Opaque, handle, 0, {}, {}}); }
  const std::string& what() const { return what_; }

  // Accessors that fail with BadFile naming `what` and `role` ("tensor size") when the kind is wrong.
  int64_t int_of(Id id, const char* role) const;  // Int or Bool; a BigInt is refused as wider than 64 bits
  const std::vector<Id>& tuple_of(Id id, const char* role) const;  // Tuple or List
  // A short printable form for messages and names: strings as themselves, numbers in decimal, others by kind.
  std::string describe(Id id) const;

 private:
  [[noreturn]] void fail(const std::string& why) const;
  [[noreturn]] void fail_op(uint8_t op, size_t at, const std::string& why) const;
  std::span<const std::byte> take(size_t n, uint8_t op, size_t at);
  std::string line(uint8_t op, size_t at);
  uint64_t le(uint8_t op, size_t at, int n);
  Id pop(uint8_t op, size_t at);
  Id top(uint8_t op, size_t at);
  size_t pop_mark(uint8_t op, size_t at);
  void push(Id id);
  void memo_put(uint64_t index, uint8_t op, size_t at);
  Id memo_get(uint64_t index, uint8_t op, size_t at);
  Id call(Id callable, Id args, uint8_t op, size_t at);
  void set_item(Id dict, Id key, Id value, uint8_t op, size_t at);
  void append(Id list, Id item, uint8_t op, size_t at);

  std::span<const std::byte> bytes_;
  std::string what_;
  size_t pos_ = 0;
  std::vector<Value> arena_;
  std::vector<Id> stack_;
  std::vector<size_t> marks_;  // stack heights at each MARK
  std::unordered_map<uint64_t, Id> memo_;
  // Dict ids -> (key text -> position of the value in items), so a repeated key replaces its value as in
  // Python, in constant time.
  std::unordered_map<Id, std::unordered_map<std::string, size_t>> dict_keys_;
};

}  // namespace frost::loader::pickle
