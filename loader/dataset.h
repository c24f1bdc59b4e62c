// Video–text datasets (issue 16's data pipeline, `frost eval`): rows of (video, caption[, id]) read from
//
//   CSV    RFC 4180 (quoted fields, embedded commas, quotes and newlines; CRLF), parsed by libcsv; a header
//          row names the columns: `video` and `caption` required, `id` optional, others ignored
//   JSONL  one JSON object a line: {"video": "...", "caption": "...", "id": "..."} ("id" optional, other
//          keys ignored); blank lines skipped
//
// An optional `keep` column (CSV: "top left height width"; JSONL: [top, left, height, width]), in the
// video's pixels, is a box every training crop must contain (loader/preprocess.h draw_train_crop_keeping):
// where the subject of a synthetic clip moves, so that augmentation never cuts it out.
//
// chosen by the file's extension (.csv, .jsonl). `video` is a video file, a frame folder or an image;
// relative paths resolve against the dataset file's folder. Several rows may share a video (its captions).
// Every problem is BadFile naming the file, the line and the field: a missing column or key, an empty video
// or caption, invalid UTF-8, a duplicate id, a file of no rows. Paths are not opened here.
//
//   Dataset d = read_dataset("data/train.csv");
//   d.rows[i].caption; d.videos[d.video_of_row[i]];    // the caption of row i and its video
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "loader/preprocess.h"

namespace frost::loader {

struct DatasetRow {
  std::string video;  // resolved path
  std::string caption;
  std::string id;                // as given, or "<file>:<line>"
  int64_t line = 0;              // 1-based line of the row's start in the file
  std::optional<PixelBox> keep;  // the `keep` column, when given
};

struct Dataset {
  std::string path;
  std::vector<DatasetRow> rows;
  std::vector<std::string> videos;    // distinct videos, in order of first appearance
  std::vector<int64_t> video_of_row;  // per row: its index in `videos`
};

Dataset read_dataset(const std::string& path);

}  // namespace frost::loader
