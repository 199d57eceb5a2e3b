# Stageplane API / worker image. The same image runs `api` or `worker` (see docker-compose.yml).
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
USER node
EXPOSE 4000
# tsx runs the TypeScript sources directly; HOST 0.0.0.0 so other containers can reach the API.
ENV HOST=0.0.0.0
ENTRYPOINT ["node", "--import", "tsx", "server/main.ts"]
CMD ["api"]
