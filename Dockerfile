# Stageplane API / worker image. The same image runs `api` or `worker` (see docker-compose.yml).
# Stage 1 builds the ops console (Vite and React are dev dependencies).
FROM node:20-bookworm-slim AS console
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY . .
RUN npm run console:build

# Stage 2: runtime dependencies only, the sources, and the built console.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts
COPY . .
COPY --from=console /app/console/dist ./console/dist
USER node
EXPOSE 4000
# tsx runs the TypeScript sources directly; HOST 0.0.0.0 so other containers can reach the API.
ENV HOST=0.0.0.0
ENTRYPOINT ["node", "--import", "tsx", "server/main.ts"]
CMD ["api"]
