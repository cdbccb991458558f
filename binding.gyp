# Alternative build with node-gyp (the primary one is cmake-js over CMakeLists.txt): the same sources,
# against the libtorch that scripts/libtorch.mjs finds (LIBTORCH, python3's PyTorch, or the system's).
{
  "targets": [
    {
      "target_name": "torchkd",
      "sources": ["native/core.cc", "native/ops.cc", "native/cuda.cc", "native/indexing.cc", "native/amp.cc", "native/autograd.cc", "native/optim.cc", "native/io.cc", "native/distributed.cc"],
      "include_dirs": [
        "<!@(node scripts/libtorch.mjs include)",
        "native/decl/gloo",
        "native/decl/dist-autograd"
      ],
      "defines": ["NAPI_EXPERIMENTAL", "NAPI_VERSION=2147483647", "<!@(node scripts/libtorch.mjs defines)"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++14", "-std=gnu++20"],
      "cflags_cc": ["-std=c++20", "-fexceptions", "-frtti", "-O2", "-Wno-unused-parameter"],
      "ldflags": ["<!@(node scripts/libtorch.mjs ldflags)", "-Wl,--no-as-needed"],
      "libraries": ["<!@(node scripts/libtorch.mjs libs)"]
    }
  ]
}
