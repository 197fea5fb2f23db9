from facepush.cli import main

main()
