# The bridge as a container: config and database live in /data.
FROM python:3.11-slim

WORKDIR /opt/bridge
# config.example.yaml: bridge/config/config.example.yaml is a symlink to it.
COPY pyproject.toml constraints.txt README.md config.example.yaml ./
COPY bridge ./bridge
COPY portals ./portals
COPY connectors ./connectors
RUN pip install --no-cache-dir --constraint constraints.txt --editable .

# /data is a bind mount the admin owns; the first run writes config.yaml there.
WORKDIR /data
VOLUME /data
EXPOSE 29317
ENTRYPOINT ["python", "-m", "bridge", "-c", "/data/config.yaml", "-r", "/data/registration.yaml"]
