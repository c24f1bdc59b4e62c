#include "loader/pickle.h"

#include <cctype>
#include <cstring>
#include <limits>

#include "engine/error.h"
#include "loader/files.h"

namespace frost::loader::pickle {
namespace {

std::string hex_byte(uint8_t b) {
  const char* digits = "0123456789abcdef";
  return std::string("0x") + digits[b >> 4] + digits[b & 15];
}

// Text pickles (protocol 0) quote strings as Python's repr; these undo the escapes repr writes.
std::string unescape_string(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out += s[i];
      continue;
    }
    const char c = s[++i];
    switch (c) {
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case '0':
        out += '\0';
        break;
      case 'x':
        if (i + 2 < s.size() && std::isxdigit(uint8_t(s[i + 1])) && std::isxdigit(uint8_t(s[i + 2]))) {
          out += char(std::stoi(s.substr(i + 1, 2), nullptr, 16));
          i += 2;
        }
        break;
      default:
        out += c;
    }
  }
  return out;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

// UNICODE (protocol 0) is raw-unicode-escape: \uXXXX and \UXXXXXXXX, every other byte a Latin-1 code point.
std::string raw_unicode_unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const int digits = (s[i] == '\\' && i + 1 < s.size()) ? (s[i + 1] == 'u'   ? 4
                                                             : s[i + 1] == 'U' ? 8
                                                                               : 0)
                                                          : 0;
    if (digits && i + 2 + size_t(digits) <= s.size()) {
      uint32_t cp = 0;
      bool ok = true;
      for (int k = 0; k < digits; ++k) {
        const char h = s[i + 2 + k];
        const int v = (h >= '0' && h <= '9')   ? h - '0'
                      : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                      : (h >= 'A' && h <= 'F') ? h - 'A' + 10
                                               : -1;
        if (v < 0) ok = false;
        cp = cp * 16 + uint32_t(v < 0 ? 0 : v);
      }
      if (ok && cp <= 0x10FFFF) {
        append_utf8(out, cp);
        i += 1 + digits;
        continue;
      }
    }
    append_utf8(out, uint8_t(s[i]));
  }
  return out;
}

bool parse_decimal(const std::string& text, int64_t& out) {
  std::string t = text;
  if (!t.empty() && t.back() == 'L') t.pop_back();  // protocol 0 LONG: "123L"
  if (t.empty()) return false;
  size_t i = (t[0] == '-' || t[0] == '+') ? 1 : 0;
  if (i == t.size()) return false;
  unsigned __int128 v = 0;
  for (; i < t.size(); ++i) {
    if (t[i] < '0' || t[i] > '9') return false;
    v = v * 10 + unsigned(t[i] - '0');
    if (v > (unsigned __int128)std::numeric_limits<int64_t>::max() + 1) return false;
  }
  const bool negative = t[0] == '-';
  if (!negative && v > (unsigned __int128)std::numeric_limits<int64_t>::max()) return false;
  out = negative ? int64_t(-(__int128)v) : int64_t(v);
  return true;
}

// Opcodes (pickletools names).
enum : uint8_t {
  MARK = '(',
  STOP = '.',
  POP = '0',
  POP_MARK = '1',
  DUP = '2',
  FLOAT = 'F',
  INT = 'I',
  BININT = 'J',
  BININT1 = 'K',
  LONG = 'L',
  BININT2 = 'M',
  NONE = 'N',
  PERSID = 'P',
  BINPERSID = 'Q',
  REDUCE = 'R',
  STRING = 'S',
  BINSTRING = 'T',
  SHORT_BINSTRING = 'U',
  UNICODE = 'V',
  BINUNICODE = 'X',
  APPEND = 'a',
  BUILD = 'b',
  GLOBAL = 'c',
  DICT = 'd',
  EMPTY_DICT = '}',
  APPENDS = 'e',
  GET = 'g',
  BINGET = 'h',
  INST = 'i',
  LONG_BINGET = 'j',
  LIST = 'l',
  EMPTY_LIST = ']',
  OBJ = 'o',
  PUT = 'p',
  BINPUT = 'q',
  LONG_BINPUT = 'r',
  SETITEM = 's',
  TUPLE = 't',
  EMPTY_TUPLE = ')',
  SETITEMS = 'u',
  BINFLOAT = 'G',
  PROTO = 0x80,
  NEWOBJ = 0x81,
  EXT1 = 0x82,
  EXT2 = 0x83,
  EXT4 = 0x84,
  TUPLE1 = 0x85,
  TUPLE2 = 0x86,
  TUPLE3 = 0x87,
  NEWTRUE = 0x88,
  NEWFALSE = 0x89,
  LONG1 = 0x8a,
  LONG4 = 0x8b,
  BINBYTES = 'B',
  SHORT_BINBYTES = 'C',
  SHORT_BINUNICODE = 0x8c,
  BINUNICODE8 = 0x8d,
  BINBYTES8 = 0x8e,
  EMPTY_SET = 0x8f,
  ADDITEMS = 0x90,
  FROZENSET = 0x91,
  NEWOBJ_EX = 0x92,
  STACK_GLOBAL = 0x93,
  MEMOIZE = 0x94,
  FRAME = 0x95,
  BYTEARRAY8 = 0x96,
  NEXT_BUFFER = 0x97,
  READONLY_BUFFER = 0x98,
};

}  // namespace

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::None:
      return "None";
    case Kind::Bool:
      return "bool";
    case Kind::Int:
      return "int";
    case Kind::BigInt:
      return "int wider than 64 bits";
    case Kind::Float:
      return "float";
    case Kind::Str:
      return "str";
    case Kind::Bytes:
      return "bytes";
    case Kind::Tuple:
      return "tuple";
    case Kind::List:
      return "list";
    case Kind::Dict:
      return "dict";
    case Kind::Set:
      return "set";
    case Kind::Global:
      return "global";
    case Kind::Placeholder:
      return "object of an unknown class";
    case Kind::Opaque:
      return "object";
  }
  return "?";
}

Unpickler::Unpickler(std::span<const std::byte> bytes, std::string what, size_t start)
    : bytes_(bytes), what_(std::move(what)), pos_(start) {}

void Unpickler::fail(const std::string& why) const {
  throw_error(ErrorCategory::BadFile, what_ + ": " + why);
}

void Unpickler::fail_op(uint8_t op, size_t at, const std::string& why) const {
  fail("pickle opcode " + hex_byte(op) + " at offset " + std::to_string(at) + ": " + why);
}

Id Unpickler::add(Value v) {
  if (arena_.size() >= kMaxObjects)
    fail("more than " + std::to_string(kMaxObjects) + " objects in one pickle");
  arena_.push_back(std::move(v));
  return Id(arena_.size() - 1);
}

std::span<const std::byte> Unpickler::take(size_t n, uint8_t op, size_t at) {
  if (n > bytes_.size() - pos_)
    fail_op(op, at,
            "needs " + std::to_string(n) + " bytes, only " + std::to_string(bytes_.size() - pos_) +
                " remain (truncated?)");
  const auto s = bytes_.subspan(pos_, n);
  pos_ += n;
  return s;
}

std::string Unpickler::line(uint8_t op, size_t at) {
  const size_t begin = pos_;
  while (pos_ < bytes_.size() && bytes_[pos_] != std::byte('\n')) ++pos_;
  if (pos_ == bytes_.size()) fail_op(op, at, "its text argument has no end of line (truncated?)");
  std::string s(reinterpret_cast<const char*>(bytes_.data() + begin), pos_ - begin);
  ++pos_;
  return s;
}

uint64_t Unpickler::le(uint8_t op, size_t at, int n) {
  const auto s = take(size_t(n), op, at);
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | uint64_t(s[size_t(i)]);
  return v;
}

void Unpickler::push(Id id) {
  stack_.push_back(id);
}

Id Unpickler::pop(uint8_t op, size_t at) {
  const size_t floor = marks_.empty() ? 0 : marks_.back();
  if (stack_.size() <= floor) fail_op(op, at, "the stack is empty (above the last MARK)");
  const Id id = stack_.back();
  stack_.pop_back();
  return id;
}

Id Unpickler::top(uint8_t op, size_t at) {
  const size_t floor = marks_.empty() ? 0 : marks_.back();
  if (stack_.size() <= floor) fail_op(op, at, "the stack is empty (above the last MARK)");
  return stack_.back();
}

size_t Unpickler::pop_mark(uint8_t op, size_t at) {
  if (marks_.empty()) fail_op(op, at, "no MARK to pop");
  const size_t m = marks_.back();
  marks_.pop_back();
  return m;
}

void Unpickler::memo_put(uint64_t index, uint8_t op, size_t at) {
  memo_[index] = top(op, at);
}

Id Unpickler::memo_get(uint64_t index, uint8_t op, size_t at) {
  const auto it = memo_.find(index);
  if (it == memo_.end()) fail_op(op, at, "memo index " + std::to_string(index) + " was never stored");
  return it->second;
}

int64_t Unpickler::int_of(Id id, const char* role) const {
  const Value& v = value(id);
  if (v.kind == Kind::Int || v.kind == Kind::Bool) return v.number;
  if (v.kind == Kind::BigInt) fail(std::string(role) + " is an integer wider than 64 bits");
  fail(std::string(role) + " is a " + kind_name(v.kind) + ", not an integer");
}

const std::vector<Id>& Unpickler::tuple_of(Id id, const char* role) const {
  const Value& v = value(id);
  if (v.kind != Kind::Tuple && v.kind != Kind::List)
    fail(std::string(role) + " is a " + kind_name(v.kind) + ", not a tuple");
  return v.items;
}

std::string Unpickler::describe(Id id) const {
  const Value& v = value(id);
  switch (v.kind) {
    case Kind::Str:
      return v.text;
    case Kind::Bytes:
      return v.text;
    case Kind::Int:
      return std::to_string(v.number);
    case Kind::Bool:
      return v.number ? "True" : "False";
    case Kind::None:
      return "None";
    case Kind::Global:
      return v.text;
    default:
      return std::string("<") + kind_name(v.kind) + ">";
  }
}

void Unpickler::set_item(Id dict, Id key, Id value_id, uint8_t op, size_t at) {
  Value& d = arena_[dict];
  if (d.kind == Kind::Placeholder) return;  // an unknown class's dict items: inert, dropped
  if (d.kind != Kind::Dict)
    fail_op(op, at, std::string("SETITEM on a ") + kind_name(d.kind) + ", not a dict");
  const Value& k = arena_[key];
  std::string index_key;
  if (k.kind == Kind::Str)
    index_key = "s" + k.text;
  else if (k.kind == Kind::Int || k.kind == Kind::Bool)
    index_key = "i" + std::to_string(k.number);
  if (!index_key.empty()) {
    auto& keys = dict_keys_[dict];
    const auto [it, fresh] = keys.emplace(index_key, d.items.size() + 1);
    if (!fresh) {  // Python keeps the last value of a repeated key
      d.items[it->second] = value_id;
      return;
    }
  }
  d.items.push_back(key);
  d.items.push_back(value_id);
}

void Unpickler::append(Id list, Id item, uint8_t op, size_t at) {
  Value& l = arena_[list];
  if (l.kind == Kind::Placeholder) return;  // list items of an unknown class: inert, dropped
  if (l.kind != Kind::List && l.kind != Kind::Set)
    fail_op(op, at, std::string("APPEND on a ") + kind_name(l.kind) + ", not a list");
  l.items.push_back(item);
}

Id Unpickler::call(Id callable, Id args, uint8_t op, size_t at) {
  const Value& c = value(callable);
  if (c.kind != Kind::Global && c.kind != Kind::Placeholder)
    fail_op(op, at, std::string("calls a ") + kind_name(c.kind) + ", which is not callable");
  const std::string name = c.text;  // copied: the hook may grow the arena
  if (value(args).kind != Kind::Tuple)
    fail_op(op, at,
            std::string("the arguments of ") + escape_for_terminal(name) + " are a " +
                kind_name(value(args).kind) + ", not a tuple");
  if (c.kind == Kind::Global) {
    if (on_call)
      if (const std::optional<Id> r = on_call(*this, name, args)) return *r;
    const std::vector<Id> a = value(args).items;
    if (name == "collections.OrderedDict" || name == "builtins.dict" || name == "__builtin__.dict") {
      if (a.empty()) return add(Value{Kind::Dict, 0, 0, {}, {}});
    } else if (name == "builtins.set" || name == "builtins.frozenset" || name == "__builtin__.set" ||
               name == "__builtin__.frozenset") {
      Value s{Kind::Set, 0, 0, {}, {}};
      if (a.size() == 1 && (value(a[0]).kind == Kind::List || value(a[0]).kind == Kind::Tuple))
        s.items = value(a[0]).items;
      if (a.empty() || a.size() == 1) return add(std::move(s));
    } else if (name == "_codecs.encode") {
      // Protocol 2 writes bytes as _codecs.encode(text, 'latin1'): text's code points are the bytes.
      if (a.size() == 2 && value(a[0]).kind == Kind::Str) {
        std::string out;
        const std::string& t = value(a[0]).text;
        for (size_t i = 0; i < t.size(); ++i) {
          const uint8_t b = uint8_t(t[i]);
          if (b < 0x80)
            out += char(b);
          else if ((b & 0xE0) == 0xC0 && i + 1 < t.size())
            out += char(((b & 0x1F) << 6) | (uint8_t(t[++i]) & 0x3F));
          else
            out += char(b);
        }
        return add(Value{Kind::Bytes, 0, 0, std::move(out), {}});
      }
    } else if (name == "torch.Size") {
      if (a.size() == 1 && (value(a[0]).kind == Kind::Tuple || value(a[0]).kind == Kind::List))
        return add(Value{Kind::Tuple, 0, 0, {}, value(a[0]).items});
    }
  }
  // Not called: an inert record of what would have been. A placeholder called again (a method chain)
  // stays a placeholder of the same name.
  return add(Value{Kind::Placeholder, 0, 0, name, {args, kNoId}});
}

Id Unpickler::load() {
  for (;;) {
    const size_t at = pos_;
    if (pos_ >= bytes_.size())
      fail("the pickle ends at offset " + std::to_string(pos_) + " without STOP (truncated?)");
    const uint8_t op = uint8_t(bytes_[pos_++]);
    switch (op) {
      case PROTO: {
        const uint64_t p = le(op, at, 1);
        if (p > 5) fail_op(op, at, "protocol " + std::to_string(p) + " (this reader knows 0 to 5)");
        break;
      }
      case FRAME:
        le(op, at, 8);
        break;  // a hint for buffered readers; the data is all here
      case STOP: {
        if (stack_.empty()) fail_op(op, at, "STOP with an empty stack");
        return stack_.back();
      }
      case MARK:
        marks_.push_back(stack_.size());
        break;
      case POP:
        pop(op, at);
        break;
      case POP_MARK:
        stack_.resize(pop_mark(op, at));
        break;
      case DUP:
        push(top(op, at));
        break;
      case NONE:
        push(add({}));
        break;
      case NEWTRUE:
      case NEWFALSE:
        push(add(Value{Kind::Bool, op == NEWTRUE, 0, {}, {}}));
        break;
      case BININT:
        push(add(Value{Kind::Int, int64_t(int32_t(uint32_t(le(op, at, 4)))), 0, {}, {}}));
        break;
      case BININT1:
        push(add(Value{Kind::Int, int64_t(le(op, at, 1)), 0, {}, {}}));
        break;
      case BININT2:
        push(add(Value{Kind::Int, int64_t(le(op, at, 2)), 0, {}, {}}));
        break;
      case INT:
      case LONG: {
        const std::string t = line(op, at);
        if (op == INT && (t == "00" || t == "01")) {  // protocol 0 booleans
          push(add(Value{Kind::Bool, t == "01", 0, {}, {}}));
          break;
        }
        int64_t v = 0;
        if (!parse_decimal(t, v)) {
          const bool digits = !t.empty() && t.find_first_not_of("+-0123456789L") == std::string::npos;
          if (!digits) fail_op(op, at, "'" + escape_for_terminal(t.substr(0, 40)) + "' is not an integer");
          push(add(Value{Kind::BigInt, 0, 0, t, {}}));  // decimal text of a wide integer
          break;
        }
        push(add(Value{Kind::Int, v, 0, {}, {}}));
        break;
      }
      case LONG1:
      case LONG4: {
        const uint64_t n = le(op, at, op == LONG1 ? 1 : 4);
        const auto b = take(size_t(n), op, at);
        if (n > 8) {
          push(add(
              Value{Kind::BigInt, 0, 0, std::string(reinterpret_cast<const char*>(b.data()), b.size()), {}}));
          break;
        }
        uint64_t v = 0;
        for (size_t i = n; i-- > 0;) v = (v << 8) | uint64_t(b[i]);
        if (n > 0 && n < 8 && (uint8_t(b[n - 1]) & 0x80)) v |= ~uint64_t(0) << (8 * n);  // sign-extend
        push(add(Value{Kind::Int, int64_t(v), 0, {}, {}}));
        break;
      }
      case FLOAT: {
        const std::string t = line(op, at);
        char* end = nullptr;
        const double d = std::strtod(t.c_str(), &end);
        if (t.empty() || end != t.c_str() + t.size())
          fail_op(op, at, "'" + escape_for_terminal(t.substr(0, 40)) + "' is not a float");
        push(add(Value{Kind::Float, 0, d, {}, {}}));
        break;
      }
      case BINFLOAT: {
        const uint64_t be = le(op, at, 8);
        uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | ((be >> (8 * i)) & 0xFF);  // big-endian on the wire
        double d;
        std::memcpy(&d, &bits, 8);
        push(add(Value{Kind::Float, 0, d, {}, {}}));
        break;
      }
      case BINUNICODE:
      case SHORT_BINUNICODE:
      case BINUNICODE8:
      case BINSTRING:
      case SHORT_BINSTRING:
      case BINBYTES:
      case SHORT_BINBYTES:
      case BINBYTES8:
      case BYTEARRAY8: {
        const int width = (op == SHORT_BINUNICODE || op == SHORT_BINSTRING || op == SHORT_BINBYTES) ? 1
                          : (op == BINUNICODE8 || op == BINBYTES8 || op == BYTEARRAY8)              ? 8
                                                                                                    : 4;
        const uint64_t n = le(op, at, width);
        if (n > bytes_.size() - pos_)
          fail_op(op, at,
                  "a string of " + std::to_string(n) + " bytes, only " +
                      std::to_string(bytes_.size() - pos_) + " remain (truncated?)");
        const auto b = take(size_t(n), op, at);
        const bool is_text = op == BINUNICODE || op == SHORT_BINUNICODE || op == BINUNICODE8 ||
                             op == BINSTRING || op == SHORT_BINSTRING;
        push(add(Value{is_text ? Kind::Str : Kind::Bytes,
                       0,
                       0,
                       std::string(reinterpret_cast<const char*>(b.data()), b.size()),
                       {}}));
        break;
      }
      case STRING: {
        std::string t = line(op, at);
        if (t.size() < 2 || (t[0] != '\'' && t[0] != '"') || t.back() != t[0])
          fail_op(op, at, "a STRING argument not in quotes");
        push(add(Value{Kind::Str, 0, 0, unescape_string(t.substr(1, t.size() - 2)), {}}));
        break;
      }
      case UNICODE:
        push(add(Value{Kind::Str, 0, 0, raw_unicode_unescape(line(op, at)), {}}));
        break;
      case EMPTY_TUPLE:
        push(add(Value{Kind::Tuple, 0, 0, {}, {}}));
        break;
      case EMPTY_LIST:
        push(add(Value{Kind::List, 0, 0, {}, {}}));
        break;
      case EMPTY_DICT:
        push(add(Value{Kind::Dict, 0, 0, {}, {}}));
        break;
      case EMPTY_SET:
        push(add(Value{Kind::Set, 0, 0, {}, {}}));
        break;
      case TUPLE1:
      case TUPLE2:
      case TUPLE3: {
        const int n = op - TUPLE1 + 1;
        std::vector<Id> items(static_cast<size_t>(n));
        for (int i = n - 1; i >= 0; --i) items[size_t(i)] = pop(op, at);
        push(add(Value{Kind::Tuple, 0, 0, {}, std::move(items)}));
        break;
      }
      case TUPLE:
      case LIST:
      case FROZENSET: {
        const size_t m = pop_mark(op, at);
        std::vector<Id> items(stack_.begin() + ptrdiff_t(m), stack_.end());
        stack_.resize(m);
        push(add(Value{op == TUPLE  ? Kind::Tuple
                       : op == LIST ? Kind::List
                                    : Kind::Set,
                       0,
                       0,
                       {},
                       std::move(items)}));
        break;
      }
      case DICT: {
        const size_t m = pop_mark(op, at);
        if ((stack_.size() - m) % 2) fail_op(op, at, "an odd number of items for a dict");
        std::vector<Id> items(stack_.begin() + ptrdiff_t(m), stack_.end());
        stack_.resize(m);
        const Id d = add(Value{Kind::Dict, 0, 0, {}, {}});
        for (size_t i = 0; i < items.size(); i += 2) set_item(d, items[i], items[i + 1], op, at);
        push(d);
        break;
      }
      case APPEND: {
        const Id item = pop(op, at);
        append(top(op, at), item, op, at);
        break;
      }
      case APPENDS:
      case ADDITEMS: {
        const size_t m = pop_mark(op, at);
        std::vector<Id> items(stack_.begin() + ptrdiff_t(m), stack_.end());
        stack_.resize(m);
        const Id list = top(op, at);
        for (Id item : items) append(list, item, op, at);
        break;
      }
      case SETITEM: {
        const Id v = pop(op, at);
        const Id k = pop(op, at);
        set_item(top(op, at), k, v, op, at);
        break;
      }
      case SETITEMS: {
        const size_t m = pop_mark(op, at);
        if ((stack_.size() - m) % 2) fail_op(op, at, "an odd number of items for SETITEMS");
        std::vector<Id> items(stack_.begin() + ptrdiff_t(m), stack_.end());
        stack_.resize(m);
        const Id d = top(op, at);
        for (size_t i = 0; i < items.size(); i += 2) set_item(d, items[i], items[i + 1], op, at);
        break;
      }
      case GET: {
        int64_t i = 0;
        const std::string t = line(op, at);
        if (!parse_decimal(t, i) || i < 0)
          fail_op(op, at, "memo index '" + escape_for_terminal(t.substr(0, 40)) + "'");
        push(memo_get(uint64_t(i), op, at));
        break;
      }
      case BINGET:
        push(memo_get(le(op, at, 1), op, at));
        break;
      case LONG_BINGET:
        push(memo_get(le(op, at, 4), op, at));
        break;
      case PUT: {
        int64_t i = 0;
        const std::string t = line(op, at);
        if (!parse_decimal(t, i) || i < 0)
          fail_op(op, at, "memo index '" + escape_for_terminal(t.substr(0, 40)) + "'");
        memo_put(uint64_t(i), op, at);
        break;
      }
      case BINPUT:
        memo_put(le(op, at, 1), op, at);
        break;
      case LONG_BINPUT:
        memo_put(le(op, at, 4), op, at);
        break;
      case MEMOIZE:
        memo_put(memo_.size(), op, at);
        break;
      case GLOBAL:
      case INST: {
        const std::string module = line(op, at);
        const std::string name = line(op, at);
        const Id g = add(Value{Kind::Global, 0, 0, module + "." + name, {}});
        if (op == GLOBAL) {
          push(g);
          break;
        }
        const size_t m = pop_mark(op, at);  // INST: class and arguments in one opcode
        std::vector<Id> items(stack_.begin() + ptrdiff_t(m), stack_.end());
        stack_.resize(m);
        push(call(g, add(Value{Kind::Tuple, 0, 0, {}, std::move(items)}), op, at));
        break;
      }
      case STACK_GLOBAL: {
        const Id name = pop(op, at);
        const Id module = pop(op, at);
        if (value(module).kind != Kind::Str || value(name).kind != Kind::Str)
          fail_op(op, at, "STACK_GLOBAL needs two strings (module, name)");
        push(add(Value{Kind::Global, 0, 0, value(module).text + "." + value(name).text, {}}));
        break;
      }
      case OBJ: {
        const size_t m = pop_mark(op, at);
        if (stack_.size() == m) fail_op(op, at, "OBJ without a class");
        const Id cls = stack_[m];
        std::vector<Id> items(stack_.begin() + ptrdiff_t(m) + 1, stack_.end());
        stack_.resize(m);
        push(call(cls, add(Value{Kind::Tuple, 0, 0, {}, std::move(items)}), op, at));
        break;
      }
      case REDUCE:
      case NEWOBJ: {
        const Id args = pop(op, at);
        const Id callable = pop(op, at);
        push(call(callable, args, op, at));
        break;
      }
      case NEWOBJ_EX: {
        pop(op, at);  // keyword arguments: no allowed callable takes any
        const Id args = pop(op, at);
        const Id cls = pop(op, at);
        push(call(cls, args, op, at));
        break;
      }
      case BUILD: {
        const Id state = pop(op, at);
        const Id obj = top(op, at);
        Value& o = arena_[obj];
        if (o.kind == Kind::Placeholder) o.items[1] = state;  // kept inert, for describing the object
        // Tensors (Opaque) and dicts take BUILD state in PyTorch only for Python attributes: not weights.
        break;
      }
      case PERSID:
      case BINPERSID: {
        const Id pid = op == PERSID ? add(Value{Kind::Str, 0, 0, line(op, at), {}}) : pop(op, at);
        if (!on_persistent) fail_op(op, at, "a persistent id where none is expected");
        push(on_persistent(*this, pid));
        break;
      }
      case EXT1:
      case EXT2:
      case EXT4:
        throw_error(ErrorCategory::Unsupported,
                    what_ + ": pickle opcode " + hex_byte(op) + " at offset " + std::to_string(at) +
                        ": the copyreg extension registry (EXT1/2/4), which frost does not read");
      case NEXT_BUFFER:
      case READONLY_BUFFER:
        throw_error(ErrorCategory::Unsupported,
                    what_ + ": pickle opcode " + hex_byte(op) + " at offset " + std::to_string(at) +
                        ": out-of-band buffers (protocol 5), which a file cannot carry");
      default:
        fail_op(op, at, "unknown opcode");
    }
  }
}

}  // namespace frost::loader::pickle
