// The GEMM choices issue 20 weighed, on the model's own shapes: oneDNN's matmul over plain weights (what
// frost ran before), over weights packed once in the layout oneDNN prefers (format_tag::any:
// onednn.linear_packed), oneDNN's inner product over packed weights, and — when the build found Debian's
// BLIS (libblis-dev; its Zen kernels) — BLIS's sgemm. Each shape is timed alone, repeatedly, so its weight
// stays in cache: this compares the GEMMs, not the memory system (in the model every weight is read from
// DRAM once per run). Median GFLOP/s of N runs; OMP_NUM_THREADS (and BLIS_NUM_THREADS) set the threads.
//
//   OMP_NUM_THREADS=2 BLIS_NUM_THREADS=2 build/bench/bench_gemm_layouts
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <oneapi/dnnl/dnnl.hpp>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>
#ifdef FROST_HAVE_BLIS
#include <blis.h>
#endif

namespace {

using dnnl::memory;

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

template <class F>
double median_seconds(F&& f, int runs) {
  std::vector<double> t;
  for (int i = 0; i < runs; ++i) {
    const double a = now();
    f();
    t.push_back(now() - a);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// A matmul or inner product over (source, weights, destination), run to completion `runs` times.
double median_primitive_seconds(const dnnl::primitive& p, dnnl::stream& st, const std::array<memory, 3>& m,
                                int runs) {
  const std::unordered_map<int, memory> args = {
      {DNNL_ARG_SRC, m[0]}, {DNNL_ARG_WEIGHTS, m[1]}, {DNNL_ARG_DST, m[2]}};
  return median_seconds(
      [&] {
        p.execute(st, args);
        st.wait();
      },
      runs);
}

}  // namespace

int main() {
  // Legend: M rows (tokens), K input features, N output features; weights (N, K) as nn.Linear stores them.
  struct Shape {
    int M, K, N;
    const char* what;
  } shapes[] = {{785, 768, 2304, "video qkv (1 clip, 4 frames)"},
                {785, 768, 768, "video proj"},
                {785, 768, 3072, "video fc1"},
                {785, 3072, 768, "video fc2"},
                {32, 768, 768, "text q/k/v/out (1 caption)"},
                {32, 768, 3072, "text lin1"},
                {32, 3072, 768, "text lin2"},
                {2048, 768, 3072, "text lin1 (64 captions)"}};
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream st(eng);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1, 1);
  std::printf("GFLOP/s, median | %-30s | plain matmul | packed matmul | packed inner product | BLIS\n",
              "shape");
  for (const Shape& s : shapes) {
    std::vector<float> a(size_t(s.M) * s.K), w(size_t(s.N) * s.K), c(size_t(s.M) * s.N);
    for (float& x : a) x = u(rng);
    for (float& x : w) x = u(rng);
    const int runs = s.M < 100 ? 200 : 15;
    const double flop = 2.0 * s.M * s.K * s.N;
    const memory::desc a_md({s.M, s.K}, memory::data_type::f32, memory::format_tag::ab);
    const memory::desc w_md({s.K, s.N}, memory::data_type::f32,
                            memory::format_tag::ba);  // (N, K) read as W^T
    const memory::desc c_md({s.M, s.N}, memory::data_type::f32, memory::format_tag::ab);
    memory am(a_md, eng, a.data()), wm(w_md, eng, w.data()), cm(c_md, eng, c.data());

    const dnnl::matmul::primitive_desc plain_pd(dnnl::matmul::desc(a_md, w_md, c_md), eng);
    const std::string impl = plain_pd.impl_info_str();
    dnnl::matmul plain(plain_pd);
    const double t_plain = median_primitive_seconds(plain, st, {am, wm, cm}, runs);

    const memory::desc w_any({s.K, s.N}, memory::data_type::f32, memory::format_tag::any);
    dnnl::matmul::primitive_desc packed_pd(dnnl::matmul::desc(a_md, w_any, c_md), eng);
    dnnl::matmul packed(packed_pd);
    memory wp(packed_pd.weights_desc(), eng);
    dnnl::reorder(wm, wp).execute(st, wm, wp);
    st.wait();
    const double t_packed = median_primitive_seconds(packed, st, {am, wp, cm}, runs);

    const memory::desc src_md({s.M, s.K}, memory::data_type::f32, memory::format_tag::nc);
    const memory::desc dst_md({s.M, s.N}, memory::data_type::f32, memory::format_tag::nc);
    const memory::desc wi_any({s.N, s.K}, memory::data_type::f32, memory::format_tag::any);
    dnnl::inner_product_forward::primitive_desc ip_pd(
        dnnl::inner_product_forward::desc(dnnl::prop_kind::forward_inference, src_md, wi_any, dst_md), eng);
    dnnl::inner_product_forward ip(ip_pd);
    memory w_oi({{s.N, s.K}, memory::data_type::f32, memory::format_tag::oi}, eng, w.data());
    memory wip(ip_pd.weights_desc(), eng);
    dnnl::reorder(w_oi, wip).execute(st, w_oi, wip);
    st.wait();
    memory sm(src_md, eng, a.data()), dm(dst_md, eng, c.data());
    const double t_ip = median_primitive_seconds(ip, st, {sm, wip, dm}, runs);

    double t_blis = 0;
#ifdef FROST_HAVE_BLIS
    float one = 1, zero = 0;
    t_blis = median_seconds(
        [&] {
          bli_sgemm(BLIS_NO_TRANSPOSE, BLIS_TRANSPOSE, s.M, s.N, s.K, &one, a.data(), s.K, 1, w.data(), s.K,
                    1, &zero, c.data(), s.N, 1);
        },
        runs);
#endif
    std::printf("M=%4d K=%4d N=%4d | %-30s | %12.1f | %13.1f | %20.1f | ", s.M, s.K, s.N, s.what,
                flop / t_plain * 1e-9, flop / t_packed * 1e-9, flop / t_ip * 1e-9);
    if (t_blis > 0)
      std::printf("%.1f\n", flop / t_blis * 1e-9);
    else
      std::printf("(not built: no libblis-dev)\n");
    if (&s == &shapes[0])
      std::printf("  (oneDNN's matmul implementation here: %s; packed weights: %s)\n", impl.c_str(),
                  packed_pd.weights_desc() == w_md ? "the plain layout" : "a blocked layout");
  }
  return 0;
}
