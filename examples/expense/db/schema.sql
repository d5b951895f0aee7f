-- The expense app's schema: idempotent, applied by the schema Job on every
-- deploy (k8s/db-schema-job.yaml). The app user is created by the Job's
-- script, which takes its password from the Secret.
CREATE DATABASE IF NOT EXISTS expense;
USE expense;
CREATE TABLE IF NOT EXISTS transactions (
  id INT AUTO_INCREMENT PRIMARY KEY,
  description VARCHAR(255) NOT NULL,
  amount DECIMAL(12, 2) NOT NULL,
  date DATE NOT NULL,
  created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
