# KI-Voicegate node (controller + admin). FreeSWITCH runs beside it on the customer VM with
# freeswitch_conf/ as its configuration; models are mounted into /data/models.
FROM python:3.11-slim-bookworm
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends espeak-ng sox \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/voicegate
COPY . .
RUN python -m venv .venv \
    && .venv/bin/pip install -q torch==2.13.0 \
    && .venv/bin/pip install -q numba tqdm more-itertools tiktoken \
    && .venv/bin/pip install -q --no-deps openai-whisper \
    && .venv/bin/pip install -q -e ".[ai]"
ENV VOICEGATE_ESL_HOST=0.0.0.0 VOICEGATE_ADMIN_HOST=0.0.0.0
VOLUME ["/data"]
EXPOSE 8084 8080
CMD [".venv/bin/voicegate", "run", "--data", "/data"]
