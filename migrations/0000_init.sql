CREATE TABLE `counter_state` (
	`task_id` integer PRIMARY KEY NOT NULL,
	`rendered_text` text,
	`message_id` text,
	`rename_times` text DEFAULT '[]' NOT NULL,
	`pending_text` text,
	FOREIGN KEY (`task_id`) REFERENCES `tasks`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `handler_state` (
	`task_id` integer NOT NULL,
	`key` text NOT NULL,
	`value` text NOT NULL,
	PRIMARY KEY(`task_id`, `key`),
	FOREIGN KEY (`task_id`) REFERENCES `tasks`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `leaderboard_state` (
	`task_id` integer PRIMARY KEY NOT NULL,
	`channel_id` text,
	`message_id` text,
	FOREIGN KEY (`task_id`) REFERENCES `tasks`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `members_seen` (
	`guild_id` text NOT NULL,
	`user_id` text NOT NULL,
	`display_name` text NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`guild_id`, `user_id`)
);
--> statement-breakpoint
CREATE TABLE `message_counts` (
	`guild_id` text NOT NULL,
	`user_id` text NOT NULL,
	`day` text NOT NULL,
	`count` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`guild_id`, `user_id`, `day`)
);
--> statement-breakpoint
CREATE INDEX `message_counts_guild_day_idx` ON `message_counts` (`guild_id`,`day`);--> statement-breakpoint
CREATE TABLE `meta` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `task_runs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`task_id` integer NOT NULL,
	`scheduled_at` integer NOT NULL,
	`started_at` integer NOT NULL,
	`finished_at` integer NOT NULL,
	`outcome` text NOT NULL,
	`error` text,
	FOREIGN KEY (`task_id`) REFERENCES `tasks`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `task_runs_task_id_idx` ON `task_runs` (`task_id`,`id`);--> statement-breakpoint
CREATE TABLE `tasks` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`guild_id` text NOT NULL,
	`name` text NOT NULL,
	`kind` text NOT NULL,
	`options` text DEFAULT '{}' NOT NULL,
	`schedule` text NOT NULL,
	`count` integer,
	`catch_up` text DEFAULT 'skip' NOT NULL,
	`state` text DEFAULT 'stopped' NOT NULL,
	`current_loop` integer DEFAULT 0 NOT NULL,
	`last_run_at` integer,
	`next_run_at` integer,
	`last_error` text,
	`timeout_ms` integer DEFAULT 60000 NOT NULL,
	`channel_id` text NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `tasks_guild_name_unique` ON `tasks` (`guild_id`,`name`);--> statement-breakpoint
CREATE INDEX `tasks_state_idx` ON `tasks` (`state`);