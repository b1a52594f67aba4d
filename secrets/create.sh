#!/bin/sh
# Create the Docker secrets that docker-compose.yml mounts, with random passwords.
# Run from anywhere: sh secrets/create.sh. Files that exist are kept, so running
# it again never changes a password a running database already uses.
set -eu
cd "$(dirname "$0")"
# The folder is private to you; the files in it must be readable by the containers'
# own users (postgres, rabbitmq, tsmetrics), which do not share your uid.
chmod 700 .
umask 022

random() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }

write() {
  if [ -e "$1" ]; then
    echo "kept    secrets/$1"
  else
    printf '%s' "$2" > "$1"
    echo "created secrets/$1"
  fi
}

if [ -e postgres_password ]; then db_password=$(cat postgres_password); else db_password=$(random); fi
if [ -e rabbitmq_credentials.conf ]; then
  mq_password=$(sed -n 's/^default_pass = //p' rabbitmq_credentials.conf)
else
  mq_password=$(random)
fi

write postgres_password "$db_password"
write database_url "postgresql://tsmetrics:${db_password}@timescaledb:5432/tsmetrics"
write rabbitmq_credentials.conf "default_user = tsmetrics
default_pass = ${mq_password}
"
write broker_url "amqp://tsmetrics:${mq_password}@rabbitmq:5672/%2F"
write secret_key "$(random)$(random)"
# The guardrail alerts' webhook (tsmetrics watch): put the receiver's URL in
# alert_webhook_url (empty: no webhook); the secret signs every POST.
write alert_webhook_url ""
write alert_webhook_secret "$(random)$(random)"
