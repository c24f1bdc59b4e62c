// The one translation unit that compiles stb_image and stb_image_write (Debian's libstb-dev headers, not
// -lstb, whose build sets no limits): PNG only — JPEG goes through libjpeg-turbo, since fuzzing found an
// out-of-bounds write in stb's Huffman table builder (docs/decisions.md) — no stdio, dimensions capped.
// Only loader/image.cpp calls into it.
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#define STBI_MAX_DIMENSIONS 16384
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop
