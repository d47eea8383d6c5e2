CREATE TABLE `guild_settings` (
	`guild_id` text PRIMARY KEY NOT NULL,
	`time_zone` text,
	`updated_at` integer NOT NULL,
	`updated_by` text NOT NULL
);
