# One image for every orgledger node (see docker-compose.yml).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY wire ./wire
COPY consensus ./consensus
COPY contracts ./contracts
COPY network ./network
COPY node ./node
COPY client_sdk ./client_sdk
RUN pip install . && useradd --create-home orgledger && mkdir /network /data && chown orgledger /network /data
USER orgledger
EXPOSE 27101-27106 28101-28106
CMD ["orgledger", "--help"]
