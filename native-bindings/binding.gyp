{
  "targets": [
    {
      "target_name": "sluice_native",
      "sources": ["src/crc32c.c", "src/mapping.c"],
      "cflags": ["-O3", "-std=c11"]
    }
  ]
}
