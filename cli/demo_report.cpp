#include "cli/demo_report.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/error.h"
#include "loader/files.h"
#include "loader/image.h"

// stb_easy_font (Debian's libstb-dev): a public-domain bitmap font drawn as rectangles — enough for labels on
// the contact sheet without a font file or a text-rendering library. Its functions are static.
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#endif
#include <stb/stb_easy_font.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace frost::cli {
namespace {

struct Rgb {
  uint8_t r, g, b;
};
constexpr Rgb kWhite{255, 255, 255}, kInk{30, 30, 30}, kGrey{170, 170, 170}, kGreen{20, 160, 60},
    kPanel{245, 245, 245};

// An RGB canvas over a u8 (H, W, 3) tensor.
class Canvas {
 public:
  Canvas(int64_t h, int64_t w) : image_(DType::U8, {h, w, 3}), h_(h), w_(w) { fill(0, 0, w, h, kWhite); }
  void fill(int64_t x, int64_t y, int64_t w, int64_t h, Rgb c) {
    for (int64_t r = std::max<int64_t>(0, y); r < std::min(h_, y + h); ++r)
      for (int64_t k = std::max<int64_t>(0, x); k < std::min(w_, x + w); ++k) {
        uint8_t* p = image_.data<uint8_t>() + (r * w_ + k) * 3;
        p[0] = c.r, p[1] = c.g, p[2] = c.b;
      }
  }
  // A frame u8 (H, W, 3) at (x, y), each pixel `scale`× (nearest: the pixels as the model saw them).
  void blit(const uint8_t* frame, int64_t fh, int64_t fw, int64_t x, int64_t y, int64_t scale) {
    for (int64_t r = 0; r < fh * scale; ++r)
      for (int64_t k = 0; k < fw * scale; ++k) {
        if (y + r < 0 || y + r >= h_ || x + k < 0 || x + k >= w_) continue;
        const uint8_t* s = frame + ((r / scale) * fw + k / scale) * 3;
        std::memcpy(image_.data<uint8_t>() + ((y + r) * w_ + x + k) * 3, s, 3);
      }
  }
  // A frame `t` pixels thick around the box (x, y, w, h), outside it.
  void frame_box(int64_t x, int64_t y, int64_t w, int64_t h, int64_t t, Rgb c) {
    fill(x - t, y - t, w + 2 * t, t, c);
    fill(x - t, y + h, w + 2 * t, t, c);
    fill(x - t, y, t, h, c);
    fill(x + w, y, t, h, c);
  }
  // Text in stb_easy_font's glyphs, `scale`× (printable ASCII; anything else drawn as '?'). Returns the
  // width drawn, pixels.
  int64_t text(const std::string& s, int64_t x, int64_t y, int64_t scale, Rgb c) {
    std::string ascii;
    for (unsigned char ch : s)  // one '?' per character outside printable ASCII (not per UTF-8 byte)
      if ((ch & 0xC0) != 0x80) ascii += (ch >= 32 && ch < 127) ? char(ch) : '?';
    std::vector<char> quads(ascii.size() * 1024 + 64);  // at most 16 quads of 64 bytes per glyph
    const int n = stb_easy_font_print(0, 0, ascii.data(), nullptr, quads.data(), int(quads.size()));
    for (int q = 0; q < n; ++q) {
      const float* v = reinterpret_cast<const float*>(quads.data() + q * 64);
      const float x0 = v[0], y0 = v[1], x1 = v[8], y1 = v[9];  // vertices 0 and 2: opposite corners
      fill(x + int64_t(std::lround(x0 * float(scale))), y + int64_t(std::lround(y0 * float(scale))),
           int64_t(std::lround((x1 - x0) * float(scale))), int64_t(std::lround((y1 - y0) * float(scale))), c);
    }
    return int64_t(stb_easy_font_width(ascii.data())) * scale;
  }
  HostTensor take() { return std::move(image_); }

 private:
  HostTensor image_;
  int64_t h_, w_;
};

std::string html_escape(const std::string& text) {
  const std::string s = loader::escape_invalid_utf8(text);  // a page is UTF-8: a bad byte becomes \xNN
  std::string out;
  for (char c : s) switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  return out;
}

std::string fixed(double v, int digits) {
  std::ostringstream os;
  os.setf(std::ios::fixed);
  os.precision(digits);
  os << v;
  return os.str();
}

}  // namespace

std::string base64(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), int(bytes.size()));
  out.resize(size_t(n));
  return out;
}

HostTensor contact_sheet(const std::vector<QueryResult>& results) {
  FROST_CHECK(!results.empty() && !results[0].clips.empty(), InvalidArgument,
              "contact sheet: no query results to draw");
  const HostTensor& first = results[0].clips[0].frames;
  FROST_CHECK(first.shape().rank() == 4 && first.shape()[3] == 3, InvalidArgument,
              "contact sheet: frames must be u8 (k, H, W, 3), got " << first.shape());
  const int64_t k = first.shape()[0], fh = first.shape()[1], fw = first.shape()[2];
  for (const QueryResult& q : results)
    for (const RankedClip& c : q.clips)
      FROST_CHECK(c.frames.dtype() == DType::U8 && c.frames.shape() == first.shape(), InvalidArgument,
                  "contact sheet: " << c.path << " has frames " << c.frames.shape() << ", the first clip "
                                    << first.shape());
  // Layout, pixels: a block per query, two blocks a row.
  constexpr int64_t kScale = 2, kGap = 6, kBorder = 4, kMargin = 16, kLabel = 130, kTitle = 34;
  size_t ranks = 0;
  for (const QueryResult& q : results) ranks = std::max(ranks, q.clips.size());
  const int64_t clip_w = k * (fw * kScale + kGap), row_h = fh * kScale + 2 * kBorder + kGap;
  const int64_t block_w = kLabel + clip_w + kMargin, block_h = kTitle + int64_t(ranks) * row_h + kMargin;
  const int64_t columns = results.size() > 1 ? 2 : 1,
                rows = (int64_t(results.size()) + columns - 1) / columns;
  Canvas canvas(rows * block_h + kMargin + 24, columns * block_w + kMargin);
  canvas.text("frost demo: text-to-video retrieval on held-out clips (green: the clip the query describes)",
              kMargin, 8, 2, kInk);
  for (size_t qi = 0; qi < results.size(); ++qi) {
    const QueryResult& q = results[qi];
    const int64_t bx = kMargin + int64_t(qi % 2) * block_w * (columns > 1),
                  by = 24 + kMargin + int64_t(qi / 2) * block_h;
    canvas.fill(bx - 6, by - 6, block_w - kMargin + 12, block_h - kMargin + 12, kPanel);
    const int64_t w = canvas.text("\"" + q.query + "\"", bx, by, 2, kInk);
    if (q.true_rank > int64_t(q.clips.size()))
      canvas.text("(its clip: rank " + std::to_string(q.true_rank) + ")", bx + w + 12, by, 2, kGreen);
    for (size_t r = 0; r < q.clips.size(); ++r) {
      const RankedClip& c = q.clips[r];
      const int64_t y = by + kTitle + int64_t(r) * row_h + kBorder;
      canvas.text(std::to_string(r + 1) + ".  " + fixed(c.score, 3), bx, y + fh * kScale / 2 - 7, 2,
                  c.is_true ? kGreen : kInk);
      const int64_t x0 = bx + kLabel;
      canvas.frame_box(x0, y, clip_w - kGap, fh * kScale, kBorder, c.is_true ? kGreen : kGrey);
      for (int64_t f = 0; f < k; ++f)
        canvas.blit(c.frames.data<uint8_t>() + f * fh * fw * 3, fh, fw, x0 + f * (fw * kScale + kGap), y,
                    kScale);
    }
  }
  return canvas.take();
}

LearningCurve read_learning_curve(const std::string& metrics_jsonl) {
  std::ifstream in(metrics_jsonl);
  FROST_CHECK(in.good(), Io, metrics_jsonl << ": cannot read the training log");
  LearningCurve c;
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    try {
      const nlohmann::json j = nlohmann::json::parse(line);
      const int64_t step = j.at("step").get<int64_t>();
      if (j.contains("val"))
        c.val_t2v_R1.emplace_back(step, j.at("val").at("t2v").at("R1").get<double>());
      else
        c.loss.emplace_back(step, j.at("loss").get<double>());
    } catch (const nlohmann::json::exception&) {
      FROST_FAIL(BadFile, metrics_jsonl << ":" << number << ": not a line of frost train's log");
    }
  }
  return c;
}

std::string learning_curve_svg(const LearningCurve& curve, double chance_R1, const std::string& title) {
  constexpr double W = 720, H = 340, L = 64, R = 64, T = 40, B = 48;  // size and margins, px
  const double pw = W - L - R, ph = H - T - B;
  int64_t max_step = 1;
  double max_loss = 1e-9;
  for (const auto& [s, v] : curve.loss) max_step = std::max(max_step, s), max_loss = std::max(max_loss, v);
  for (const auto& [s, v] : curve.val_t2v_R1) max_step = std::max(max_step, s);
  max_loss = std::ceil(max_loss);
  auto X = [&](double step) { return L + pw * step / double(max_step); };
  auto Y_loss = [&](double v) { return T + ph * (1 - v / max_loss); };
  auto Y_r1 = [&](double v) { return T + ph * (1 - v / 100); };
  std::ostringstream s;
  s << R"(<svg xmlns="http://www.w3.org/2000/svg" width=")" << W << "\" height=\"" << H << "\" viewBox=\"0 0 "
    << W << " " << H << R"(" font-family="sans-serif" font-size="12">)"
    << "\n"
    << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    << "<text x=\"" << W / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">" << html_escape(title)
    << "</text>\n";
  // Axes, ticks and grid.
  s << "<g stroke=\"#999\" stroke-width=\"1\">\n<line x1=\"" << L << "\" y1=\"" << T + ph << "\" x2=\""
    << L + pw << "\" y2=\"" << T + ph << "\"/>\n<line x1=\"" << L << "\" y1=\"" << T << "\" x2=\"" << L
    << "\" y2=\"" << T + ph << "\"/>\n<line x1=\"" << L + pw << "\" y1=\"" << T << "\" x2=\"" << L + pw
    << "\" y2=\"" << T + ph << "\"/>\n</g>\n";
  for (int i = 0; i <= 4; ++i) {
    const double y = T + ph * i / 4.0;
    s << "<line x1=\"" << L << "\" y1=\"" << y << "\" x2=\"" << L + pw << "\" y2=\"" << y
      << "\" stroke=\"#eee\"/>\n"
      << "<text x=\"" << L - 6 << "\" y=\"" << y + 4 << "\" text-anchor=\"end\" fill=\"#1f5fbf\">"
      << fixed(max_loss * (1 - i / 4.0), 1) << "</text>\n"
      << "<text x=\"" << L + pw + 6 << "\" y=\"" << y + 4 << "\" fill=\"#c0392b\">" << 100 - 25 * i
      << "%</text>\n";
    const double step = double(max_step) * i / 4.0;
    s << "<text x=\"" << X(step) << "\" y=\"" << T + ph + 16 << "\" text-anchor=\"middle\">"
      << int64_t(std::lround(step)) << "</text>\n";
  }
  s << "<text x=\"" << L + pw / 2 << "\" y=\"" << H - 10 << "\" text-anchor=\"middle\">training step</text>\n"
    << "<text x=\"16\" y=\"" << T + ph / 2 << "\" transform=\"rotate(-90 16 " << T + ph / 2
    << ")\" text-anchor=\"middle\" fill=\"#1f5fbf\">training loss</text>\n"
    << "<text x=\"" << W - 14 << "\" y=\"" << T + ph / 2 << "\" transform=\"rotate(90 " << W - 14 << " "
    << T + ph / 2 << ")\" text-anchor=\"middle\" fill=\"#c0392b\">held-out text-to-video R@1</text>\n";
  // The loss: a polyline over at most ~600 points (every n-th step).
  const size_t every = std::max<size_t>(1, curve.loss.size() / 600);
  s << "<polyline fill=\"none\" stroke=\"#1f5fbf\" stroke-width=\"1.2\" points=\"";
  for (size_t i = 0; i < curve.loss.size(); i += every)
    s << fixed(X(double(curve.loss[i].first)), 1) << "," << fixed(Y_loss(curve.loss[i].second), 1) << " ";
  s << "\"/>\n";
  // Chance, then R@1 at each validation.
  s << "<line x1=\"" << L << "\" y1=\"" << Y_r1(chance_R1) << "\" x2=\"" << L + pw << "\" y2=\""
    << Y_r1(chance_R1) << "\" stroke=\"#c0392b\" stroke-dasharray=\"4 4\" stroke-width=\"1\"/>\n"
    << "<text x=\"" << L + pw - 4 << "\" y=\"" << Y_r1(chance_R1) - 4
    << "\" text-anchor=\"end\" fill=\"#c0392b\">chance R@1 " << fixed(chance_R1, 2) << "%</text>\n";
  if (!curve.val_t2v_R1.empty()) {
    s << "<polyline fill=\"none\" stroke=\"#c0392b\" stroke-width=\"2\" points=\"";
    for (const auto& [step, r1] : curve.val_t2v_R1)
      s << fixed(X(double(step)), 1) << "," << fixed(Y_r1(r1), 1) << " ";
    s << "\"/>\n";
    for (const auto& [step, r1] : curve.val_t2v_R1)
      s << "<circle cx=\"" << fixed(X(double(step)), 1) << "\" cy=\"" << fixed(Y_r1(r1), 1)
        << "\" r=\"3.5\" fill=\"#c0392b\"><title>step " << step << ": R@1 " << fixed(r1, 1)
        << "%</title></circle>\n";
  }
  s << "</svg>\n";
  return s.str();
}

std::string demo_html(const DemoPage& page) {
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>"
    << html_escape(page.title)
    << "</title>\n<style>\n"
       "body{font-family:sans-serif;max-width:1100px;margin:24px auto;padding:0 16px;color:#222}\n"
       "table.m{border-collapse:collapse;margin:8px 0 16px}\n"
       "table.m td,table.m th{border:1px solid #ccc;padding:4px 10px;text-align:right}\n"
       ".query{margin:20px 0;padding:10px 14px;background:#f6f6f6;border-radius:6px}\n"
       ".query h3{margin:4px 0 10px}\n"
       ".hit{display:flex;align-items:center;gap:12px;margin:6px 0;padding:4px;border:3px solid #ccc;"
       "background:#fff}\n"
       ".hit.true{border-color:#149c3c}\n"
       ".hit img{width:96px;height:96px;image-rendering:pixelated}\n"
       ".rank{width:2.5em;font-weight:bold;text-align:right}.score{width:4.5em;font-family:monospace}\n"
       ".path{font-family:monospace;font-size:12px;color:#555}.mark{color:#149c3c;font-weight:bold}\n"
       "pre{background:#f0f0f0;padding:10px;overflow-x:auto}\n"
       "</style>\n</head>\n<body>\n<h1>"
    << html_escape(page.title) << "</h1>\n<p>" << html_escape(page.summary) << "</p>\n";
  const retrieval::Metrics& t = page.metrics.t2v;
  const retrieval::Metrics& v = page.metrics.v2t;
  auto row = [&](const char* name, const retrieval::Metrics& m) {
    h << "<tr><th>" << name << "</th><td>" << fixed(m.R1, 1) << "</td><td>" << fixed(m.R5, 1) << "</td><td>"
      << fixed(m.R10, 1) << "</td><td>" << fixed(m.MedR, 1) << "</td><td>" << fixed(m.MeanR, 1) << "</td><td>"
      << fixed(100.0 / double(std::max<int64_t>(1, m.candidates)), 2) << "</td><td>" << m.queries << " over "
      << m.candidates << "</td></tr>\n";
  };
  h << "<h2>Held-out retrieval</h2>\n<table class=\"m\">\n<tr><th></th><th>R@1 %</th><th>R@5 %</th><th>R@10 "
       "%</th><th>MedR</th><th>MeanR</th><th>chance R@1 %</th><th>queries</th></tr>\n";
  row("text → video", t);
  row("video → text", v);
  h << "</table>\n<p>" << html_escape(page.ties) << "</p>\n<h2>Learning curve</h2>\n"
    << page.curve_svg << "<h2>Queries</h2>\n";
  for (const QueryResult& q : page.results) {
    h << "<div class=\"query\">\n<h3>“" << html_escape(q.query) << "”";
    if (q.true_rank > int64_t(q.clips.size()))
      h << " <span class=\"mark\">(the clip it describes is at rank " << q.true_rank << ")</span>";
    h << "</h3>\n";
    for (size_t r = 0; r < q.clips.size(); ++r) {
      const RankedClip& c = q.clips[r];
      h << "<div class=\"hit" << (c.is_true ? " true" : "") << "\"><span class=\"rank\">" << r + 1
        << "</span><span class=\"score\">" << fixed(c.score, 4) << "</span>";
      for (int64_t f = 0; f < c.frames.shape()[0]; ++f) {
        const Shape& s = c.frames.shape();
        HostTensor frame(DType::U8, {s[1], s[2], 3});
        std::memcpy(frame.raw(), c.frames.data<uint8_t>() + f * s[1] * s[2] * 3, frame.bytes());
        h << "<img alt=\"frame " << f + 1 << "\" src=\"data:image/png;base64,"
          << base64(loader::encode_png(frame, c.path)) << "\">";
      }
      h << "<span class=\"path\">" << html_escape(c.path) << "</span>"
        << (c.is_true ? "<span class=\"mark\">✓ the clip this caption describes</span>" : "") << "</div>\n";
    }
    h << "</div>\n";
  }
  if (!page.next_steps.empty()) {
    h << "<h2>Try next</h2>\n<pre>";
    for (const std::string& s : page.next_steps) h << html_escape(s) << "\n";
    h << "</pre>\n";
  }
  h << "</body>\n</html>\n";
  return h.str();
}

}  // namespace frost::cli
