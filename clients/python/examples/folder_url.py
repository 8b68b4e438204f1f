from updraft_autoupdate import Autoupdate

def main():
    updater = Autoupdate(app_name='YourAppName', current_version='1.0.0',
                          update_url='https://example.com/updates/')
    if updater.check_for_updates():
        updated = updater.download_updates()
        if updated:
            updater.apply_updates()
            # 可能需要重启应用
    print("App is up-to-date and running!")

if __name__ == "__main__":
    main()
