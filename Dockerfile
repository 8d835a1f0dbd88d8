# One image for every orgledger node (see docker-compose.yml). The node runs as the unprivileged
# user `orgledger` (uid 10001); it writes only /data (its data volume, read index included).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md requirements.lock ./
COPY wire ./wire
COPY consensus ./consensus
COPY contracts ./contracts
COPY network ./network
COPY node ./node
COPY client_sdk ./client_sdk
COPY auditor ./auditor
RUN pip install -c requirements.lock ".[postgres]" \
    && useradd --uid 10001 --create-home orgledger \
    && mkdir /network /data /node \
    && chown orgledger:orgledger /network /data /node
USER orgledger
EXPOSE 27101-27106 28101-28106
CMD ["orgledger", "--help"]
