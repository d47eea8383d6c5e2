import { defineConfig } from 'drizzle-kit';

// `npm run db:generate` writes a new migration into migrations/ from src/db/schema.ts. Never edit them after.
export default defineConfig({
  dialect: 'sqlite',
  schema: './src/db/schema.ts',
  out: './migrations',
});
