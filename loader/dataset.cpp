#include "loader/dataset.h"

#include <csv.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <unordered_set>

#include "engine/error.h"
#include "loader/files.h"

namespace frost::loader {

namespace {

constexpr size_t kMaxBytes = size_t(4) << 30;  // a dataset file of more is refused before reading

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// libcsv's callbacks: fields into the current record; a record into `records` with its starting line. The
// text is fed a line at a time; a line fed while no row has begun (libcsv's pstate 0, ROW_NOT_BEGUN) is where
// the next record starts — a quoted field spanning lines keeps its record's first line.
struct CsvState {
  std::vector<std::string> record;
  std::vector<std::pair<std::vector<std::string>, int64_t>> records;
  int64_t start = 1;    // the line where the current record began
  int64_t feeding = 1;  // the line being fed
};
void on_field(void* data, size_t len, void* state) {
  auto* s = static_cast<CsvState*>(state);
  s->record.emplace_back(data != nullptr ? static_cast<const char*>(data) : "", data != nullptr ? len : 0);
}
void on_record(int, void* state) {
  auto* s = static_cast<CsvState*>(state);
  s->records.emplace_back(std::move(s->record), s->start);
  s->record.clear();
}

std::vector<std::pair<std::vector<std::string>, int64_t>> parse_csv(const std::string& path,
                                                                    const std::string& text) {
  csv_parser p{};
  FROST_CHECK(csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) == 0, Internal,
              "libcsv init failed");
  CsvState s;
  size_t at = 0;
  for (; at < text.size(); ++s.feeding) {  // a quoted field may span lines: its record starts where it began
    size_t end = text.find('\n', at);
    end = end == std::string::npos ? text.size() : end + 1;
    if (p.pstate == 0) s.start = s.feeding;
    if (csv_parse(&p, text.data() + at, end - at, on_field, on_record, &s) != end - at) {
      const int err = csv_error(&p);
      csv_free(&p);
      FROST_FAIL(BadFile, path << ":" << s.feeding << ": not valid CSV (" << csv_strerror(err) << ")");
    }
    at = end;
  }
  if (csv_fini(&p, on_field, on_record, &s) != 0) {
    const int err = csv_error(&p);
    csv_free(&p);
    FROST_FAIL(BadFile,
               path << ": not valid CSV at its end (" << csv_strerror(err) << ": an unterminated quote?)");
  }
  csv_free(&p);
  return std::move(s.records);
}

PixelBox checked_box(int64_t top, int64_t left, int64_t height, int64_t width, const std::string& path,
                     int64_t line) {
  constexpr int64_t kMax = int64_t(1) << 20;
  FROST_CHECK(top >= 0 && left >= 0 && height > 0 && width > 0 && top <= kMax && left <= kMax &&
                  height <= kMax && width <= kMax,
              BadFile,
              path << ":" << line
                   << ": the keep box needs top, left >= 0 and height, width > 0 (pixels), got " << top << " "
                   << left << " " << height << " " << width);
  return {top, left, height, width};
}

// CSV's keep column: "top left height width", decimal integers separated by spaces.
PixelBox parse_box(const std::string& text, const std::string& path, int64_t line) {
  std::vector<int64_t> v;
  size_t at = 0;
  while (at < text.size()) {
    if (text[at] == ' ') {
      ++at;
      continue;
    }
    size_t end = at;
    while (end < text.size() && text[end] >= '0' && text[end] <= '9' && end - at < 8) ++end;
    FROST_CHECK(end > at && (end == text.size() || text[end] == ' '), BadFile,
                path << ":" << line << ": the keep box must be four non-negative integers "
                     << "\"top left height width\", got '" << escape_invalid_utf8(text) << "'");
    v.push_back(std::stoll(text.substr(at, end - at)));
    at = end;
  }
  FROST_CHECK(v.size() == 4, BadFile,
              path << ":" << line << ": the keep box must be four integers \"top left height width\", got '"
                   << escape_invalid_utf8(text) << "'");
  return checked_box(v[0], v[1], v[2], v[3], path, line);
}

}  // namespace

Dataset read_dataset(const std::string& path) {
  const bool csv = ends_with(path, ".csv"), jsonl = ends_with(path, ".jsonl");
  FROST_CHECK(csv || jsonl, BadFile,
              path << ": a dataset is a .csv (columns video, caption[, id]) or a .jsonl file (one "
                      "{\"video\", \"caption\"[, \"id\"]} object a line)");
  std::string text = read_regular_file(path, "dataset", kMaxBytes);
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);  // a UTF-8 byte-order mark, as spreadsheets write
  const std::filesystem::path folder = std::filesystem::path(path).parent_path();
  Dataset d;
  d.path = path;
  std::unordered_map<std::string, int64_t> video_index;
  std::unordered_set<std::string> ids;
  auto add = [&](std::string video, std::string caption, std::string id, bool has_id, int64_t line,
                 std::optional<PixelBox> keep) {
    const std::string where = path + ":" + std::to_string(line);
    FROST_CHECK(!video.empty(), BadFile, where << ": the video is empty");
    FROST_CHECK(!caption.empty(), BadFile, where << ": the caption is empty");
    FROST_CHECK(is_valid_utf8(video) && is_valid_utf8(caption) && is_valid_utf8(id), BadFile,
                where << ": not valid UTF-8 (" << escape_invalid_utf8(caption) << ")");
    if (!has_id) id = where;
    FROST_CHECK(ids.insert(id).second, BadFile, where << ": id '" << id << "' appears twice");
    std::filesystem::path v(video);
    if (v.is_relative()) v = folder / v;
    const std::string resolved = v.lexically_normal().string();
    auto [it, fresh] = video_index.emplace(resolved, int64_t(d.videos.size()));
    if (fresh) d.videos.push_back(resolved);
    d.video_of_row.push_back(it->second);
    d.rows.push_back({resolved, std::move(caption), std::move(id), line, keep});
  };
  if (csv) {
    const auto records = parse_csv(path, text);
    FROST_CHECK(!records.empty(), BadFile,
                path << ": empty — the first row names the columns (video, caption[, id])");
    const std::vector<std::string>& header = records[0].first;
    int video = -1, caption = -1, id = -1, keep = -1;
    for (int c = 0; c < int(header.size()); ++c) {
      const std::string& h = header[size_t(c)];
      int* slot = h == "video"     ? &video
                  : h == "caption" ? &caption
                  : h == "id"      ? &id
                  : h == "keep"    ? &keep
                                   : nullptr;
      if (slot == nullptr) continue;
      FROST_CHECK(*slot < 0, BadFile, path << ":1: column '" << h << "' appears twice");
      *slot = c;
    }
    FROST_CHECK(
        video >= 0 && caption >= 0, BadFile,
        path << ":1: the header must name the columns 'video' and 'caption' (and optionally 'id'); it has "
             << header.size() << " columns, first '" << escape_invalid_utf8(header.empty() ? "" : header[0])
             << "'");
    for (size_t r = 1; r < records.size(); ++r) {
      const auto& [fields, line] = records[r];
      if (fields.size() == 1 && fields[0].empty()) continue;  // a blank line
      FROST_CHECK(
          fields.size() == header.size(), BadFile,
          path << ":" << line << ": " << fields.size() << " fields, the header has " << header.size());
      std::optional<PixelBox> box;
      if (keep >= 0 && !fields[size_t(keep)].empty()) box = parse_box(fields[size_t(keep)], path, line);
      add(fields[size_t(video)], fields[size_t(caption)], id >= 0 ? fields[size_t(id)] : "", id >= 0, line,
          box);
    }
  } else {
    int64_t line = 0;
    for (size_t start = 0; start < text.size();) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      std::string l = text.substr(start, end - start);
      start = end + 1;
      ++line;
      if (!l.empty() && l.back() == '\r') l.pop_back();
      if (l.find_first_not_of(" \t") == std::string::npos) continue;
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(l);
      } catch (const nlohmann::json::exception& e) {
        FROST_FAIL(BadFile,
                   path << ":" << line << ": not a JSON object (" << json_error_text(e.what()) << ")");
      }
      FROST_CHECK(j.is_object(), BadFile, path << ":" << line << ": not a JSON object");
      auto text_field = [&](const char* key, bool required) -> std::string {
        if (!j.contains(key)) {
          FROST_CHECK(!required, BadFile, path << ":" << line << ": no \"" << key << "\"");
          return "";
        }
        FROST_CHECK(j.at(key).is_string(), BadFile,
                    path << ":" << line << ": \"" << key << "\" must be a string");
        return j.at(key).get<std::string>();
      };
      std::optional<PixelBox> box;
      if (j.contains("keep")) {
        const nlohmann::json& k = j.at("keep");
        FROST_CHECK(k.is_array() && k.size() == 4 &&
                        std::all_of(k.begin(), k.end(),
                                    [](const nlohmann::json& v) { return v.is_number_integer(); }),
                    BadFile,
                    path << ":" << line << ": \"keep\" must be [top, left, height, width], four integers");
        box = checked_box(k[0].get<int64_t>(), k[1].get<int64_t>(), k[2].get<int64_t>(), k[3].get<int64_t>(),
                          path, line);
      }
      add(text_field("video", true), text_field("caption", true), text_field("id", false), j.contains("id"),
          line, box);
    }
  }
  FROST_CHECK(!d.rows.empty(), BadFile, path << ": no rows");
  return d;
}

}  // namespace frost::loader
