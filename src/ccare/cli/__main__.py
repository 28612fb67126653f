from ccare.cli import main

main()
