// The activations in double, shared by the reference kernels that apply them: the elementwise ops
// (gelu, gelu_tanh and their backward helpers) and the linear op's fused epilogue.
#pragma once

#include <cmath>

#include "engine/graph.h"

namespace frost::ops::reference {

inline constexpr double kSqrt1_2 = 0.70710678118654752440;      // 1 / sqrt(2)
inline constexpr double kInvSqrt2Pi = 0.39894228040143267794;   // 1 / sqrt(2 pi)
inline constexpr double kSqrt2OverPi = 0.79788456080286535588;  // sqrt(2 / pi)
inline constexpr double kGeluCubic = 0.044715;

// x * Phi(x) = x / 2 * (1 + erf(x / sqrt 2))
inline double gelu_f(double x) {
  return 0.5 * x * (1.0 + std::erf(x * kSqrt1_2));
}
inline double gelu_df(double x) {
  return 0.5 * (1.0 + std::erf(x * kSqrt1_2)) + x * kInvSqrt2Pi * std::exp(-0.5 * x * x);
}
inline double gelu_tanh_f(double x) {
  return 0.5 * x * (1.0 + std::tanh(kSqrt2OverPi * (x + kGeluCubic * x * x * x)));
}
inline double gelu_tanh_df(double x) {
  const double t = std::tanh(kSqrt2OverPi * (x + kGeluCubic * x * x * x));
  return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * kSqrt2OverPi * (1.0 + 3.0 * kGeluCubic * x * x);
}

inline double activate(Activation a, double x) {
  switch (a) {
    case Activation::Gelu:
      return gelu_f(x);
    case Activation::GeluTanh:
      return gelu_tanh_f(x);
    case Activation::None:
      break;
  }
  return x;
}

}  // namespace frost::ops::reference
